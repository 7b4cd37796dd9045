-- Every SIRET seen anywhere: declarations of buyer profiles, dataset extras.siret, contracts.
-- A declaration whose SIRET could not be recovered keeps its raw value: it is an invalid SIRET,
-- not nothing.

-- SIRET checksum: Luhn over the 14 digits; La Poste establishments (356000000…) are valid
-- when the sum of their digits is a multiple of 5. Same rule as decp_monitor.siret.
CREATE OR REPLACE TEMP MACRO siret_luhn_ok(s) AS
    list_sum(list_transform(range(14), lambda i:
        CASE WHEN i % 2 = 0
             THEN 2 * CAST(s[i + 1] AS INTEGER) - CASE WHEN CAST(s[i + 1] AS INTEGER) > 4 THEN 9 ELSE 0 END
             ELSE CAST(s[i + 1] AS INTEGER) END)) % 10 = 0;

CREATE OR REPLACE TEMP MACRO siret_is_valid(s) AS
    CASE WHEN NOT coalesce(regexp_full_match(s, '[0-9]{14}'), FALSE) THEN FALSE
         ELSE siret_luhn_ok(s) OR (starts_with(s, '356000000')
              AND list_sum(list_transform(range(14), lambda i: CAST(s[i + 1] AS INTEGER))) % 5 = 0)
    END;

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
