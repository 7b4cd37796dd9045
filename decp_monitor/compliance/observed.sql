-- When did each contract really appear? Evidence independent of the date the buyer declares.
-- Reads the session variables set by compliance.compute() (patterns and tolerances of rules.py).

-- French wording helpers shared by the files that follow.
CREATE OR REPLACE TEMP MACRO fr_count(n, singular, plural) AS
    CAST(n AS VARCHAR) || ' ' || CASE WHEN n = 1 THEN singular ELSE plural END;
CREATE OR REPLACE TEMP MACRO fr_date(d) AS strftime(d, '%d/%m/%Y');

-- The catalogue may list a resource or dataset twice (an incremental load adds a newer copy):
-- keep the most recently modified.
CREATE OR REPLACE TEMP TABLE catalog_resources AS
SELECT * FROM resources
WHERE resource_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY resource_id ORDER BY last_modified DESC NULLS LAST, created_at DESC NULLS LAST) = 1;

CREATE OR REPLACE TEMP TABLE catalog_datasets AS
SELECT * FROM datasets
WHERE dataset_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY dataset_id ORDER BY last_modified DESC NULLS LAST) = 1;

-- The publication day a file name carries: DECP-{SIRET}-{YYYY}-{MM}-{DD}-{seq} or the AIFE
-- "marchesDD.MM.YYYY". Anything else (decp-2024.xml, date ranges) gives NULL.
CREATE OR REPLACE TEMP MACRO name_publication_date(name) AS coalesce(
    try_cast(nullif(regexp_extract(name, getvariable('decp_name_date_pattern'), 1), '') AS DATE),
    CAST(try_strptime(nullif(regexp_extract(name, getvariable('decp_aife_name_date_pattern'), 1), ''), '%d.%m.%Y') AS DATE)
);

CREATE OR REPLACE TEMP MACRO base_name(path) AS regexp_extract(path, '([^/\\?#]+)(?:[?#].*)?$', 1);

-- One row per file holding records.
CREATE OR REPLACE TEMP TABLE file_evidence AS
WITH files AS (
    SELECT DISTINCT source_file, resource_id FROM records
)
SELECT
    f.source_file,
    f.resource_id,
    coalesce(
        name_publication_date(base_name(f.source_file)),
        name_publication_date(r.title),
        name_publication_date(base_name(r.url))
    ) AS name_date,
    -- created_at tells when the content appeared only for a file uploaded once and never
    -- rewritten (a consolidated file rewritten over time was created before most of its content).
    CASE
        WHEN r.filetype IS DISTINCT FROM 'remote'
         AND r.created_at IS NOT NULL AND r.last_modified IS NOT NULL
         AND r.last_modified <= r.created_at + to_hours(getvariable('decp_one_off_max_rewrite_hours'))
        THEN CAST(r.created_at AS DATE)
    END AS created_date
FROM files f
LEFT JOIN catalog_resources r USING (resource_id);

-- Earliest file evidence over the records of a contract: a republished contract keeps its
-- first appearance.
CREATE OR REPLACE TEMP TABLE contract_file_evidence AS
SELECT
    rc.contract_key,
    min(coalesce(e.name_date, e.created_date)) AS file_date,
    arg_min(CASE WHEN e.name_date IS NOT NULL THEN 'file_name' ELSE 'resource_created_at' END,
            coalesce(e.name_date, e.created_date)) AS file_source
FROM (SELECT * FROM file_evidence WHERE coalesce(name_date, created_date) IS NOT NULL) e
JOIN records r
  ON r.source_file IS NOT DISTINCT FROM e.source_file
 AND r.resource_id IS NOT DISTINCT FROM e.resource_id
JOIN record_contract rc USING (record_id)
GROUP BY rc.contract_key;

-- The monitor as witness: when it first saw the contract, the build before that one, and when
-- it first saw anything of the same buyer. A first sighting proves lateness only if an earlier
-- build, after the deadline, already watched that buyer and did not see the contract: the first
-- load of a history (or of a new source) says nothing about when that history was published.
-- Keyed like the sightings (buyer, contract id, notification date) and read by contracts.sql in
-- the statement that judges the contracts: a view, so that the contracts are joined to it once
-- (a table joined to the contracts here, then joined back by first_record_id, read and joined
-- 1.28 M contracts twice at national scale; same rows).
CREATE OR REPLACE TEMP VIEW contract_first_seen AS
WITH seen AS (
    SELECT buyer_siret, contract_id, notification_date, min(first_seen) AS first_seen
    FROM sightings
    GROUP BY ALL
),
buyer_seen AS (
    SELECT buyer_siret, min(first_seen) AS buyer_first_seen FROM seen GROUP BY buyer_siret
),
builds AS (
    SELECT DISTINCT started_at FROM refreshes WHERE outcome = 'published' AND started_at IS NOT NULL
),
previous AS (
    SELECT s.first_seen, max(b.started_at) AS previous_build
    FROM (SELECT DISTINCT first_seen FROM seen) s
    LEFT JOIN builds b ON b.started_at < s.first_seen
    GROUP BY s.first_seen
)
SELECT
    s.buyer_siret,
    s.contract_id,
    s.notification_date,
    s.first_seen,
    -- the last build before the first sighting, if it already watched this buyer
    CASE WHEN bs.buyer_first_seen <= p.previous_build THEN p.previous_build END AS previous_build
FROM seen s
LEFT JOIN previous p USING (first_seen)
LEFT JOIN buyer_seen bs ON bs.buyer_siret IS NOT DISTINCT FROM s.buyer_siret;
