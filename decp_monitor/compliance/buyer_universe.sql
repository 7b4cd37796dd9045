-- Every SIRET seen anywhere: declarations of buyer profiles, dataset extras.siret, contracts.
-- A declaration whose SIRET could not be recovered keeps its raw value: it is an invalid SIRET,
-- not nothing.

-- siret_is_valid(): decp_monitor/core/siret.sql, installed by compute().
CREATE OR REPLACE TEMP TABLE buyer_universe AS
SELECT buyer_siret, siret_is_valid(buyer_siret) AS siret_valid
FROM (
    SELECT coalesce(siret, nullif(trim(siret_raw), '')) AS buyer_siret FROM declarations
    UNION
    SELECT nullif(trim(extras_siret), '') FROM catalog_datasets
    UNION
    SELECT buyer_siret FROM contracts
)
WHERE buyer_siret IS NOT NULL AND buyer_siret <> '';
