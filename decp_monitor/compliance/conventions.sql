-- Publishing conventions of data.gouv.fr (seeds 003/004): one row per dataset or resource check.
-- Patterns, expected values and messages come from rules.py (session variables and the
-- compliance_vocabulary table).

-- What kind of dataset: per buyer when extras.siret is given (the convention's own marker);
-- also per buyer, "deduced", when extras.siret is missing but every file name carries one SIRET
-- and that SIRET is the only buyer of its contracts (a platform dataset names its files with
-- the platform's SIRET); otherwise a platform dataset. Declaration-only datasets (buyer-profile
-- CSVs) are not DECP publications and are left out.
CREATE OR REPLACE TEMP TABLE dataset_structure AS
WITH resource_stats AS (
    SELECT
        dataset_id,
        list(DISTINCT nullif(regexp_extract(title, '(?i)DECP-([0-9]{14})-', 1), '')) AS name_sirets,
        count(*) FILTER (WHERE classification = 'decp') AS decp_resources,
        count(*) FILTER (WHERE classification = 'declaration') AS declaration_resources
    FROM catalog_resources
    GROUP BY dataset_id
),
record_buyers AS (
    SELECT cr.dataset_id, list(DISTINCT rb.buyer_siret) AS buyers
    FROM (SELECT DISTINCT resource_id, buyer_siret FROM records
          WHERE resource_id IS NOT NULL AND buyer_siret IS NOT NULL) rb
    JOIN catalog_resources cr USING (resource_id)
    GROUP BY cr.dataset_id
)
SELECT
    d.dataset_id,
    nullif(trim(d.extras_siret), '') AS extras_siret,
    list_filter(coalesce(rs.name_sirets, []), lambda s: s IS NOT NULL) AS name_sirets,
    CASE
        WHEN nullif(trim(d.extras_siret), '') IS NOT NULL THEN 'acheteur'
        WHEN len(list_filter(coalesce(rs.name_sirets, []), lambda s: s IS NOT NULL)) = 1
         AND len(coalesce(rb.buyers, [])) = 1
         AND list_filter(rs.name_sirets, lambda s: s IS NOT NULL)[1] = rb.buyers[1] THEN 'acheteur_deduit'
        ELSE 'plateforme'
    END AS structure,
    rb.buyers[1] AS single_buyer
FROM catalog_datasets d
LEFT JOIN resource_stats rs USING (dataset_id)
LEFT JOIN record_buyers rb USING (dataset_id)
WHERE NOT (coalesce(rs.declaration_resources, 0) > 0 AND coalesce(rs.decp_resources, 0) = 0
           AND rb.dataset_id IS NULL);

CREATE OR REPLACE TABLE dataset_conformance AS
WITH d AS (
    SELECT
        cd.*,
        s.structure,
        s.single_buyer,
        list_transform(coalesce(cd.tags, []), lambda t: strip_accents(lower(trim(t)))) AS norm_tags
    FROM catalog_datasets cd
    JOIN dataset_structure s USING (dataset_id)
),
checks AS (
    SELECT dataset_id, structure, 'title_pattern' AS "check",
           coalesce(regexp_matches(strip_accents(lower(title)), getvariable('decp_title_pattern')), FALSE) AS passed,
           getvariable('decp_title_prefix') || '{nom}' AS expected,
           coalesce(title, '(vide)') AS actual
    FROM d
    UNION ALL
    SELECT dataset_id, structure, 'tags',
           list_contains(norm_tags, getvariable('decp_tag_single'))
               OR list_has_all(norm_tags, getvariable('decp_tags_pair')),
           getvariable('decp_tag_single') || ' (ou ' || array_to_string(getvariable('decp_tags_pair'), ' + ') || ')',
           CASE WHEN len(coalesce(tags, [])) = 0 THEN '(aucun)' ELSE array_to_string(tags, ', ') END
    FROM d
    UNION ALL
    SELECT dataset_id, structure, 'license',
           coalesce(list_contains(getvariable('decp_accepted_licenses'), license), FALSE),
           array_to_string(getvariable('decp_accepted_licenses'), ' ou '),
           coalesce(license, '(non renseignée)')
    FROM d
    UNION ALL
    SELECT dataset_id, structure, 'extras_siret',
           CASE structure
               WHEN 'acheteur' THEN siret_is_valid(trim(extras_siret))
               WHEN 'acheteur_deduit' THEN FALSE
               ELSE TRUE
           END,
           CASE structure
               WHEN 'acheteur' THEN 'un SIRET valide (jeu propre à un acheteur)'
               WHEN 'acheteur_deduit' THEN single_buyer
               ELSE 'absent (jeu de plateforme)'
           END,
           CASE structure
               WHEN 'acheteur' THEN CASE WHEN siret_is_valid(trim(extras_siret))
                   THEN 'Jeu propre à un acheteur : extras.siret = ' || trim(extras_siret) || ', SIRET valide.'
                   ELSE 'Jeu propre à un acheteur : extras.siret = « ' || extras_siret || ' » n''est pas un SIRET valide.' END
               WHEN 'acheteur_deduit' THEN 'extras.siret absent alors que tous les fichiers portent le SIRET '
                   || single_buyer || ', seul acheteur de leurs contrats : un jeu propre à un acheteur doit indiquer son SIRET dans extras.siret.'
               ELSE 'Jeu de plateforme : extras.siret absent, comme le veut la convention.'
           END
    FROM d
    UNION ALL
    SELECT dataset_id, structure, 'frequency',
           NOT list_contains(getvariable('decp_unset_frequencies'), coalesce(frequency, '')),
           'une fréquence', coalesce(nullif(frequency, ''), '(vide)')
    FROM d
    UNION ALL
    SELECT dataset_id, structure, 'organization',
           organization_id IS NOT NULL AND organization_id <> '',
           'une organisation', coalesce(organization_name, organization_id, '(aucune)')
    FROM d
)
SELECT
    c.dataset_id,
    c."check",
    l.label AS check_label,
    c.passed,
    c.expected,
    c.actual,
    format(CASE WHEN c.passed THEN m.label ELSE m.reference END, c.expected, c.actual) AS message,
    -- added column
    c.structure
FROM checks c
LEFT JOIN compliance_vocabulary l ON l.vocabulary = 'check' AND l.code = c."check"
LEFT JOIN compliance_vocabulary m ON m.vocabulary = 'check_message' AND m.code = c."check";

-- Resources: every DECP file of a checked dataset (documentation and declaration files have
-- no naming convention).
CREATE OR REPLACE TABLE resource_conformance AS
WITH r AS (
    SELECT
        cr.*,
        s.structure,
        s.extras_siret,
        base_name(cr.url) AS file_name,
        regexp_extract(cr.title, getvariable('decp_resource_file_pattern'), ['siret', 'day', 'seq', 'ext']) AS title_parts,
        regexp_extract(base_name(cr.url), getvariable('decp_resource_file_pattern'), ['siret', 'day', 'seq', 'ext']) AS file_parts
    FROM catalog_resources cr
    JOIN dataset_structure s USING (dataset_id)
    WHERE coalesce(cr.classification, 'decp') = 'decp'
      AND coalesce(cr.type, 'main') NOT IN ('documentation', 'code', 'api')
),
parsed AS (
    SELECT
        r.*,
        lower(coalesce(nullif(title_parts.ext, ''), nullif(file_parts.ext, ''),
                       nullif(regexp_extract(coalesce(file_name, title), '\.(xml|json)$', 1), ''))) AS ext,
        coalesce(nullif(title_parts.siret, ''), nullif(file_parts.siret, '')) AS name_siret,
        coalesce(try_cast(nullif(title_parts.day, '') AS DATE), try_cast(nullif(file_parts.day, '') AS DATE)) AS name_day
    FROM r
),
checks AS (
    SELECT dataset_id, resource_id, 'resource_title' AS "check",
           coalesce(regexp_full_match(title, getvariable('decp_resource_title_pattern'))
                    AND try_cast(nullif(title_parts.day, '') AS DATE) IS NOT NULL, FALSE) AS passed,
           'DECP-{SIRET}-{AAAA}-{MM}-{JJ}-{seq}.{xml|json}' AS expected,
           coalesce(title, '(vide)') AS actual
    FROM parsed
    UNION ALL
    SELECT dataset_id, resource_id, 'resource_file_name',
           coalesce(regexp_full_match(file_name, getvariable('decp_resource_file_pattern'))
                    AND try_cast(nullif(file_parts.day, '') AS DATE) IS NOT NULL, FALSE),
           'DECP-{SIRET}-{AAAA}-{MM}-{JJ}-{seq}.{xml|json}',
           coalesce(nullif(file_name, ''), '(aucun)')
    FROM parsed
    WHERE coalesce(filetype, 'file') = 'file'
    UNION ALL
    SELECT dataset_id, resource_id, 'name_siret',
           name_siret = trim(extras_siret),
           trim(extras_siret), name_siret
    FROM parsed
    WHERE structure = 'acheteur' AND name_siret IS NOT NULL
    UNION ALL
    SELECT dataset_id, resource_id, 'uploaded',
           coalesce(filetype = 'file', FALSE), 'file', coalesce(filetype, '(non renseigné)')
    FROM parsed
    UNION ALL
    SELECT dataset_id, resource_id, 'format',
           coalesce(lower(trim(format)) = ext, FALSE),
           coalesce(ext, '(extension inconnue)'), coalesce(format, '(non renseigné)')
    FROM parsed
    UNION ALL
    SELECT dataset_id, resource_id, 'mime',
           coalesce(lower(trim(mime)) = getvariable('decp_expected_mime')[ext], FALSE),
           coalesce(getvariable('decp_expected_mime')[ext], '(extension inconnue)'),
           coalesce(mime, '(non renseigné)')
    FROM parsed
    UNION ALL
    SELECT dataset_id, resource_id, 'resource_type',
           coalesce(type = 'main', FALSE), 'main', coalesce(type, '(non renseigné)')
    FROM parsed
    UNION ALL
    SELECT dataset_id, resource_id, 'name_date',
           abs(CAST(created_at AS DATE) - name_day) <= getvariable('decp_name_date_tolerance_days'),
           'date du nom ' || fr_date(name_day),
           'déposé le ' || fr_date(CAST(created_at AS DATE))
    FROM parsed
    WHERE name_day IS NOT NULL AND created_at IS NOT NULL
)
SELECT
    c.dataset_id,
    c.resource_id,
    c."check",
    l.label AS check_label,
    coalesce(c.passed, FALSE) AS passed,
    c.expected,
    c.actual,
    format(CASE WHEN coalesce(c.passed, FALSE) THEN m.label ELSE m.reference END, c.expected, c.actual) AS message
FROM checks c
LEFT JOIN compliance_vocabulary l ON l.vocabulary = 'check' AND l.code = c."check"
LEFT JOIN compliance_vocabulary m ON m.vocabulary = 'check_message' AND m.code = c."check"
-- A convention applies to the files put online from its start date (rules.CONVENTION_START).
WHERE coalesce((SELECT CAST(p.created_at AS DATE) FROM parsed p
                WHERE p.resource_id = c.resource_id AND p.dataset_id = c.dataset_id LIMIT 1)
               >= getvariable('decp_convention_start')[c."check"], TRUE);
