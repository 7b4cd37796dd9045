-- Per contract and per modification: the rule applied, the deadline, the delay and a status.
-- Delays, labels and the assessment window come from session variables and label tables set
-- by compliance.compute() from rules.py.

-- The judgement of each contract is computed narrow, keyed by contracts.first_record_id (unique
-- per contract), then joined back to contracts once, at build time, into contract_compliance_rows:
-- a stored table ordered by buyer, so that a buyer's page reads a few row groups (zone maps on
-- buyer_siret) instead of joining 1.5 M contracts to 1.5 M judgements at every query.
-- contract_compliance stays the name every reader uses: a plain view over that table (free to
-- bind, filters pushed down). (compute() drops an older contract_compliance first, whether
-- table or view.)

CREATE OR REPLACE TEMP TABLE contract_judgements AS
WITH ruled AS (
    SELECT
        c.first_record_id,
        c.contract_key,
        c.buyer_siret,
        c.contract_id,
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
    LEFT JOIN contract_file_evidence fe USING (contract_key)
    -- a contract's sighting: unique per (buyer, id, notification date), the contracts' own key
    LEFT JOIN contract_first_seen fs
      ON fs.buyer_siret IS NOT DISTINCT FROM r.buyer_siret
     AND fs.contract_id = r.contract_id
     AND fs.notification_date IS NOT DISTINCT FROM r.notification_date
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
    ) AS platform,
    -- « Name (SIRET) ; … » of each holder, from the holders' JSON list of the contract's first record.
    array_to_string(list_transform(try_cast(r.holders AS JSON[]),
        lambda x: concat_ws(' ', x->>'name', '(' || (x->>'id') || ')')), ' ; ') AS holder_names
FROM observed o
LEFT JOIN catalog_resources cr ON cr.resource_id = o.resource_id
LEFT JOIN catalog_datasets cd ON cd.dataset_id = cr.dataset_id
LEFT JOIN records r ON r.record_id = o.first_record_id;

-- Read once, above: their memory goes back to the sort below (temporary tables count against
-- the build's memory cap).
DROP TABLE contract_file_evidence;

-- Written in buyer order with one join and one sort. Under the build's memory cap (700 MB) the
-- sort of 1.28 M wide rows held the holders' join (1.4 M JSON texts) beside it and carried the long
-- French labels in every row: the holders now come with the judgements, and the labels are looked
-- up after the sort (MAPs of compliance_vocabulary set by compute(); a projection keeps the sorted
-- order). Same rows as the form that joined everything before sorting; 15.3 -> 10.7 CPU s at 1.5 M
-- (BENCHMARKS.md, issue 13; tests/compliance/test_contract_rows.py).
CREATE OR REPLACE TABLE contract_compliance_rows AS
SELECT
    contract_key, buyer_siret, buyer_name, contract_id, kind, objet, amount, notification_date, start_date,
    publication_date, observed_date, observed_source, rule,
    getvariable('decp_rule_labels')[rule] AS rule_label,
    deadline, delay_days, days_late, status,
    getvariable('decp_status_labels')[status] AS status_label,
    in_window, source_file, resource_id, dataset_id, record_count, platform,
    -- added columns
    last_publication_date, observed_days_late, observed_conclusive, file_count, modification_count,
    -- What the Contrats page shows and searches, stored here so that its combined search reads this
    -- one table: joining contracts and records (and searching the holders' JSON text) at every
    -- query cost most of a second at 1.5 M contracts.
    nature, procedure, cpv, place_code, departement, holder_names, holders_search, buyer_search
FROM (
    SELECT
        c.contract_key, c.buyer_siret, c.buyer_name, c.contract_id, c.kind, c.objet, c.amount,
        c.notification_date, c.start_date, c.publication_date, j.observed_date, j.observed_source, j.rule,
        j.deadline,
        CAST(c.publication_date - c.notification_date AS INTEGER) AS delay_days,
        CAST(c.publication_date - j.deadline AS INTEGER) AS days_late,
        j.status, j.in_window, c.source_file, c.resource_id, j.dataset_id, c.record_count, j.platform,
        c.last_publication_date,
        CAST(j.observed_date - j.deadline AS INTEGER) AS observed_days_late,
        j.observed_conclusive, c.file_count, c.modification_count, c.nature, c.procedure, c.cpv, c.place_code,
        -- Département of the place of execution: the first two characters of a postcode, a commune
        -- (INSEE) or a département code, three for the overseas ones (97x), Corsica's 2A/2B kept.
        CASE WHEN c.place_code IS NULL OR trim(c.place_code) = '' THEN NULL
             WHEN regexp_matches(trim(c.place_code), '^97[0-9]') THEN left(trim(c.place_code), 3)
             WHEN length(trim(c.place_code)) = 1 THEN lpad(trim(c.place_code), 2, '0')
             ELSE upper(left(trim(c.place_code), 2)) END AS departement,
        j.holder_names,
        -- Searched with contains(): lower case, accents removed (« electricite » finds « Électricité »).
        strip_accents(lower(j.holder_names)) AS holders_search,
        strip_accents(lower(c.buyer_name)) AS buyer_search
    FROM contracts c
    JOIN contract_judgements j USING (first_record_id)
    ORDER BY c.buyer_siret
);

-- The view every reader uses leaves out the two search columns (lower case, no accents: of use
-- to the Contrats search only, which reads the table); exports and the console show the names.
CREATE VIEW contract_compliance AS SELECT * EXCLUDE (holders_search, buyer_search) FROM contract_compliance_rows;

DROP TABLE contract_judgements;

CREATE OR REPLACE TABLE modification_compliance AS
WITH dated AS (
    SELECT
        m.*,
        'modification_notification_2m' AS rule,
        CAST(m.notification_date + to_months(getvariable('decp_modification_months')) AS DATE) AS deadline
    FROM modifications m
),
judged AS (
    SELECT
        d.*,
        CASE
            WHEN d.deadline IS NULL THEN 'no_notification_date'
            WHEN d.publication_date IS NULL THEN 'no_publication_date'
            WHEN d.publication_date < d.notification_date THEN 'published_before_notification'
            WHEN d.publication_date > d.deadline THEN 'late'
            ELSE 'on_time'
        END AS status
    FROM dated d
)
SELECT
    j.contract_key,
    j.buyer_siret,
    j.contract_id,
    j.kind,
    j.modification_key,
    j.modification_id,
    j.notification_date,
    j.publication_date,
    j.rule,
    j.deadline,
    CAST(j.publication_date - j.notification_date AS INTEGER) AS delay_days,
    CAST(j.publication_date - j.deadline AS INTEGER) AS days_late,
    j.status,
    sl.label AS status_label,
    coalesce(j.notification_date BETWEEN getvariable('decp_window_start') AND getvariable('decp_as_of'), FALSE) AS in_window,
    j.source_file,
    -- added columns
    rl.label AS rule_label,
    j.position,
    j.amount,
    j.objet,
    j.record_count
FROM judged j
LEFT JOIN compliance_vocabulary rl ON rl.vocabulary = 'rule' AND rl.code = j.rule
LEFT JOIN compliance_vocabulary sl ON sl.vocabulary = 'status' AND sl.code = j.status;
