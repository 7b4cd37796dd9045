-- The register table of a version being built: for every SIRET the data mentions, what the data
-- says (latest published name, the declaration's contact details) beside what the registers say
-- (register_api: the cache's facts and those carried from the previous version, one per SIRET,
-- prepared by apply.py). Reads ref_departements (apply.py).

CREATE OR REPLACE TEMP TABLE register_universe AS
SELECT DISTINCT siret FROM (
    SELECT coalesce(siret, nullif(trim(siret_raw), '')) AS siret FROM declarations
    UNION ALL SELECT nullif(trim(extras_siret), '') FROM datasets
    UNION ALL SELECT buyer_siret FROM contracts
    UNION ALL SELECT siret FROM register_api
)
WHERE siret IS NOT NULL AND siret <> '';

-- The latest name the buyer itself published (by notification date).
CREATE OR REPLACE TEMP TABLE register_published AS
SELECT buyer_siret AS siret,
       -- on a tie the last by name, as buyers.sql picks it (the first row met differs between builds)
       arg_max(trim(buyer_name), (coalesce(notification_date, DATE '1900-01-01'), trim(buyer_name))) AS name
FROM contracts
WHERE buyer_siret IS NOT NULL AND nullif(trim(buyer_name), '') IS NOT NULL
GROUP BY 1;

-- A declaration's "coordonnees": often "Name, postcode town"; the name is what comes before the
-- first comma or line break, when it has letters; the postcode gives a département.
CREATE OR REPLACE TEMP TABLE register_declared AS
WITH parts AS (
    SELECT coalesce(siret, nullif(trim(siret_raw), '')) AS siret,
           nullif(trim(regexp_extract(coordonnees, '^([^,;\n\r]{3,200})', 1)), '') AS name,
           nullif(regexp_extract(coordonnees, '(?:^|[^0-9])([0-9]{5})(?:[^0-9]|$)', 1), '') AS postcode,
           line
    FROM declarations
    WHERE coalesce(siret, nullif(trim(siret_raw), '')) IS NOT NULL AND coordonnees IS NOT NULL
)
SELECT siret,
       arg_min(name, line) FILTER (WHERE regexp_matches(name, '[A-Za-zÀ-ÿ]{3}') AND NOT regexp_matches(name, '[@/]')) AS name,
       arg_min(CASE
           WHEN postcode LIKE '97%' THEN left(postcode, 3)
           WHEN postcode LIKE '20%' THEN CASE WHEN postcode < '20200' THEN '2A' ELSE '2B' END
           ELSE left(postcode, 2) END, line) FILTER (WHERE postcode IS NOT NULL) AS departement
FROM parts
GROUP BY 1;

CREATE OR REPLACE TABLE register AS
SELECT
    u.siret,
    left(u.siret, 9) AS siren,
    coalesce(a.found, FALSE) AS found,
    a.name,
    a.legal_name,
    a.categorie_juridique,
    a.categorie_juridique_label,
    a.kind,
    a.state,
    a.closed_on,
    a.legal_state,
    a.commune_code,
    a.commune_name,
    coalesce(a.departement, dd.code) AS departement,
    coalesce(a.region, dd.region) AS region,
    a.head_office_siret,
    a.is_head_office,
    coalesce(a.non_diffusible, FALSE) AS non_diffusible,
    a.source,
    a.fetched_at,
    coalesce(p.name, d.name) AS data_name,
    CASE WHEN p.name IS NOT NULL THEN 'donnees' WHEN d.name IS NOT NULL THEN 'declaration' END AS data_name_source,
    dd.code AS data_departement
FROM register_universe u
LEFT JOIN register_api a USING (siret)
LEFT JOIN register_published p USING (siret)
LEFT JOIN register_declared d USING (siret)
LEFT JOIN ref_departements dd ON dd.code = d.departement;
