-- The statements that compute.sql and consolidate_findings.sql ran before issue 13's rewrite
-- (main at dcf7d65), kept word for word as the reference the rewrite is compared with
-- (tests/compliance/test_rewrite_parity.py): every table they give must equal the stored one.
-- Run after compliance.compute() on the same connection (session variables, catalog_* and
-- record_contract in place); writes ref_* temporary tables only.

CREATE OR REPLACE TEMP TABLE ref_duplicate_record AS
SELECT r.source_file, r.resource_id, r.position, 'id' AS field, 'duplicate_record' AS code, 'info' AS severity,
       'Contrat republié : déjà lu dans ' || f.source_file || ' (enregistrement n° ' || (f.position + 1) || ')' AS message,
       r.contract_id AS value, r.buyer_siret, r.contract_id
FROM records r
JOIN record_contract rc USING (record_id)
JOIN contracts c USING (contract_key)
JOIN records f ON f.record_id = c.first_record_id
WHERE r.record_id <> c.first_record_id;

-- Earliest file evidence over the records of a contract: a republished contract keeps its
-- first appearance.
CREATE OR REPLACE TEMP TABLE ref_contract_file_evidence AS
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
CREATE OR REPLACE TEMP TABLE ref_contract_first_seen AS
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
    c.first_record_id,   -- the contract's integer key (cheaper to write and join than contract_key)
    s.first_seen,
    -- the last build before the first sighting, if it already watched this buyer
    CASE WHEN bs.buyer_first_seen <= p.previous_build THEN p.previous_build END AS previous_build
FROM contracts c
JOIN seen s
  ON s.buyer_siret IS NOT DISTINCT FROM c.buyer_siret
 AND s.contract_id = c.contract_id
 AND s.notification_date IS NOT DISTINCT FROM c.notification_date
LEFT JOIN previous p USING (first_seen)
LEFT JOIN buyer_seen bs ON bs.buyer_siret IS NOT DISTINCT FROM s.buyer_siret;

CREATE OR REPLACE TEMP TABLE ref_contract_judgements AS
WITH ruled AS (
    SELECT
        c.first_record_id,
        c.contract_key,
        c.source_file,
        c.resource_id,
        c.notification_date,
        c.start_date,
        c.publication_date,
        CASE
            WHEN c.kind = 'concession' AND c.start_date IS NOT NULL THEN 'concession_start'
            WHEN c.kind = 'concession' THEN 'concession_signature_2m'
            ELSE 'marche_notification_2m'
        END AS rule
    FROM contracts c
),
dated AS (
    SELECT
        r.*,
        CASE r.rule
            WHEN 'concession_start' THEN r.start_date
            WHEN 'concession_signature_2m'
                THEN CAST(r.notification_date + to_months(getvariable('decp_concession_fallback_months')) AS DATE)
            ELSE CAST(r.notification_date + to_months(getvariable('decp_marche_months')) AS DATE)
        END AS deadline,
        coalesce(r.notification_date, r.start_date) AS reference_date,
        fe.file_date,
        fe.file_source,
        fs.first_seen,
        fs.previous_build
    FROM ruled r
    LEFT JOIN ref_contract_file_evidence fe USING (contract_key)
    LEFT JOIN ref_contract_first_seen fs USING (first_record_id)
),
observed AS (
    SELECT
        d.*,
        coalesce(d.file_date, CAST(d.first_seen AS DATE)) AS observed_date,
        CASE
            WHEN d.file_date IS NOT NULL THEN d.file_source
            WHEN d.first_seen IS NOT NULL THEN 'first_seen'
        END AS observed_source,
        -- Whether the observed date may contradict the declared one (see observed.sql).
        CASE
            WHEN d.file_date IS NOT NULL THEN TRUE
            WHEN d.first_seen IS NOT NULL THEN coalesce(CAST(d.previous_build AS DATE) > d.deadline, FALSE)
            ELSE FALSE
        END AS observed_conclusive
    FROM dated d
)
SELECT
    o.first_record_id,
    o.rule,
    o.deadline,
    CASE
        WHEN o.deadline IS NULL THEN 'no_notification_date'
        WHEN o.publication_date IS NULL THEN 'no_publication_date'
        WHEN o.notification_date IS NOT NULL AND o.publication_date < o.notification_date
            THEN 'published_before_notification'
        WHEN o.publication_date > o.deadline THEN 'late'
        WHEN o.observed_conclusive AND o.observed_date > o.deadline THEN 'declared_on_time_observed_late'
        ELSE 'on_time'
    END AS status,
    o.observed_date,
    o.observed_source,
    o.observed_conclusive,
    coalesce(o.reference_date BETWEEN getvariable('decp_window_start') AND getvariable('decp_as_of'), FALSE) AS in_window,
    cr.dataset_id,
    coalesce(
        cd.organization_name,
        cd.title,
        nullif(regexp_extract(o.source_file, '^https?://([^/]+)', 1), ''),
        nullif(regexp_extract(o.source_file, '([^/\\]+)[/\\][^/\\]+$', 1), '')
    ) AS platform
FROM observed o
LEFT JOIN catalog_resources cr ON cr.resource_id = o.resource_id
LEFT JOIN catalog_datasets cd ON cd.dataset_id = cr.dataset_id;

CREATE OR REPLACE TEMP TABLE ref_contract_compliance_rows AS
SELECT
    c.contract_key,
    c.buyer_siret,
    c.buyer_name,
    c.contract_id,
    c.kind,
    c.objet,
    c.amount,
    c.notification_date,
    c.start_date,
    c.publication_date,
    j.observed_date,
    j.observed_source,
    j.rule,
    rl.label AS rule_label,
    j.deadline,
    CAST(c.publication_date - c.notification_date AS INTEGER) AS delay_days,
    CAST(c.publication_date - j.deadline AS INTEGER) AS days_late,
    j.status,
    sl.label AS status_label,
    j.in_window,
    c.source_file,
    c.resource_id,
    j.dataset_id,
    c.record_count,
    j.platform,
    -- added columns
    c.last_publication_date,
    CAST(j.observed_date - j.deadline AS INTEGER) AS observed_days_late,
    j.observed_conclusive,
    c.file_count,
    c.modification_count,
    -- What the Contrats page shows and searches, stored here so that its combined search reads this
    -- one table: joining contracts and records (and searching the holders' JSON text) at every
    -- query cost most of a second at 1.5 M contracts.
    c.nature,
    c.procedure,
    c.cpv,
    c.place_code,
    -- Département of the place of execution: the first two characters of a postcode, a commune
    -- (INSEE) or a département code, three for the overseas ones (97x), Corsica's 2A/2B kept.
    CASE WHEN c.place_code IS NULL OR trim(c.place_code) = '' THEN NULL
         WHEN regexp_matches(trim(c.place_code), '^97[0-9]') THEN left(trim(c.place_code), 3)
         WHEN length(trim(c.place_code)) = 1 THEN lpad(trim(c.place_code), 2, '0')
         ELSE upper(left(trim(c.place_code), 2)) END AS departement,
    h.holder_names,
    -- Searched with contains(): lower case, accents removed (« electricite » finds « Électricité »).
    strip_accents(lower(h.holder_names)) AS holders_search,
    strip_accents(lower(c.buyer_name)) AS buyer_search
FROM contracts c
JOIN ref_contract_judgements j USING (first_record_id)
LEFT JOIN records r ON r.record_id = c.first_record_id
-- « Name (SIRET) ; … » of each holder, from the holders' JSON list.
CROSS JOIN LATERAL (SELECT array_to_string(list_transform(try_cast(r.holders AS JSON[]),
    lambda x: concat_ws(' ', x->>'name', '(' || (x->>'id') || ')')), ' ; ') AS holder_names) h
LEFT JOIN compliance_vocabulary rl ON rl.vocabulary = 'rule' AND rl.code = j.rule
LEFT JOIN compliance_vocabulary sl ON sl.vocabulary = 'status' AND sl.code = j.status
ORDER BY c.buyer_siret;
