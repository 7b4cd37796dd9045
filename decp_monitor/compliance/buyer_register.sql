-- The register of buyers applied to buyer_compliance (after buyers.sql): a name when the data
-- has none, kind, place, closing; a closed establishment judged only up to its closing date;
-- an invalid SIRET linked to the one valid SIRET of its SIREN the data or the register knows.
-- Reads register (decp_monitor/register/apply.py), ref_departements and the search_text macro
-- (installed by compute()).

CREATE OR REPLACE TEMP TABLE buyer_register_candidates AS
SELECT left(siret, 9) AS siren, min(siret) AS siret, count(DISTINCT siret) AS n
FROM (
    SELECT buyer_siret AS siret FROM buyer_compliance WHERE siret_valid
    UNION SELECT siret FROM register WHERE found AND siret_is_valid(siret)
)
GROUP BY 1;

-- The organisation behind a SIREN, when the register gives its establishments one legal name.
CREATE OR REPLACE TEMP TABLE buyer_register_sirens AS
SELECT siren, any_value(legal_name) AS legal_name
FROM register
WHERE found AND legal_name IS NOT NULL
GROUP BY 1
HAVING count(DISTINCT legal_name) = 1;

CREATE OR REPLACE TABLE buyer_compliance AS
WITH joined AS (
    SELECT
        b.*,
        r.name AS register_name,
        r.data_name AS register_data_name,
        r.data_name_source,
        r.legal_name,
        r.categorie_juridique,
        r.categorie_juridique_label,
        coalesce(r.kind, 'inconnu') AS buyer_kind,
        r.commune_code,
        r.commune_name,
        coalesce(r.departement, r.data_departement) AS departement,
        r.state AS establishment_state,
        r.closed_on,
        r.head_office_siret,
        r.source AS register_source,
        r.fetched_at AS register_fetched_at,
        coalesce(r.state = 'F' AND coalesce(r.closed_on <= getvariable('decp_as_of'), TRUE), FALSE) AS is_closed,
        CASE WHEN NOT b.siret_valid AND length(b.buyer_siret) = 14 AND c.n = 1 THEN c.siret END AS probable_siret
    FROM buyer_compliance b
    LEFT JOIN register r ON r.siret = b.buyer_siret
    LEFT JOIN buyer_register_candidates c ON NOT b.siret_valid AND c.siren = left(b.buyer_siret, 9)
),
judged AS (
    SELECT
        j.*,
        CASE
            WHEN NOT j.is_closed THEN j.verdict
            WHEN j.verdict IN ('no_recent_data', 'undeclared') THEN 'closed'
            -- silent since it closed, not before
            WHEN j.verdict = 'stale' AND (j.closed_on IS NULL OR j.last_publication_date
                 >= CAST(j.closed_on - to_months(getvariable('decp_stale_months')) AS DATE)) THEN 'closed'
            -- declared but never published: closed before the assessed period
            WHEN j.verdict = 'missing' AND j.closed_on < getvariable('decp_window_start') THEN 'closed'
            ELSE j.verdict
        END AS register_verdict
    FROM joined j
)
SELECT
    j.* EXCLUDE (buyer_name, verdict, verdict_label, reasons, severity_rank, register_name, register_data_name,
                 data_name_source, register_verdict, is_closed, probable_siret),
    -- an invalid SIRET without a name of its own takes the name of the SIRET it probably means
    -- (or at least the organisation of its SIREN)
    coalesce(j.buyer_name, j.register_name, j.register_data_name, pn.name, pn.data_name, sn.legal_name) AS buyer_name,
    CASE WHEN j.buyer_name IS NOT NULL THEN 'donnees'
         WHEN j.register_name IS NOT NULL THEN j.register_source
         WHEN j.register_data_name IS NOT NULL THEN j.data_name_source
         WHEN coalesce(pn.name, pn.data_name) IS NOT NULL THEN 'siret_probable'
         WHEN sn.legal_name IS NOT NULL THEN 'siren' END AS buyer_name_source,
    j.register_verdict AS verdict,
    vl.label AS verdict_label,
    list_filter([
        CASE WHEN j.is_closed AND j.closed_on IS NOT NULL THEN format(getvariable('decp_reason_closed'), fr_date(j.closed_on)) END,
        CASE WHEN j.is_closed AND j.closed_on IS NULL THEN getvariable('decp_reason_closed_undated') END
    ], lambda x: x IS NOT NULL)
    -- a silence that began with the closing is no longer a reason
    || list_filter(j.reasons, lambda x: NOT (j.verdict = 'stale' AND j.register_verdict = 'closed'
                   AND starts_with(x, split_part(getvariable('decp_reason_stale'), '{}', 1))))
    || list_filter([
        CASE WHEN j.probable_siret IS NOT NULL THEN format(getvariable('decp_reason_probable_siret'), j.probable_siret,
             coalesce(pn.name, pn.data_name, 'nom inconnu')) END
    ], lambda x: x IS NOT NULL) AS reasons,
    vl.rank AS severity_rank,
    j.is_closed,
    j.probable_siret,
    rd.nom AS departement_name,
    rd.region,
    rd.region_nom AS region_name,
    kl.label AS buyer_kind_label,
    search_text(concat_ws(' ', coalesce(j.buyer_name, j.register_name, j.register_data_name), j.register_name,
                          j.legal_name, j.register_data_name, j.commune_name)) AS search_text
FROM judged j
LEFT JOIN compliance_vocabulary vl ON vl.vocabulary = 'verdict' AND vl.code = j.register_verdict
LEFT JOIN compliance_vocabulary kl ON kl.vocabulary = 'buyer_kind' AND kl.code = j.buyer_kind
LEFT JOIN ref_departements rd ON rd.code = j.departement
LEFT JOIN register pn ON pn.siret = j.probable_siret
LEFT JOIN buyer_register_sirens sn ON sn.siren = left(j.buyer_siret, 9) AND length(j.buyer_siret) = 14;
