-- Collapse republications: records of one buyer with the same contract id and notification date
-- are one contract, first published at the earliest declared publication date. Records without
-- an id cannot be matched to anything and stand alone.

CREATE OR REPLACE MACRO contract_key_of(siret, cid, notif, kind, rid) AS
    coalesce(siret, '?') || '|' || coalesce(cid, '#' || CAST(rid AS VARCHAR)) || '|'
    || coalesce(CAST(notif AS VARCHAR), '') || '|' || kind;

CREATE OR REPLACE TABLE record_contract AS
SELECT record_id,
       contract_key_of(buyer_siret, contract_id, notification_date, kind, record_id) AS contract_key
FROM records;

-- Most contracts have a single record: their columns are that record's, which is what every
-- aggregate below gives over one row (arg_min/arg_max of one row, NULLs included). Only the
-- republished ones go through the aggregate, whose string states cost memory (at 1.5 M records,
-- aggregating everything peaked at 2.5 GB; this form at 0.94 GB, same table; see BENCHMARKS.md).
-- The records of republished contracts are picked by id first: joined to the sizes directly,
-- every record was read with all its columns before the filter (EXPLAIN ANALYZE; CPU of this
-- statement at 185 000 records 0.63-0.74 s before, 0.52-0.60 s after, on a shared machine).
CREATE OR REPLACE TABLE contracts AS
WITH sizes AS (
    SELECT contract_key, count(*) AS n FROM record_contract GROUP BY contract_key
),
-- the few records of republished contracts, found before any wide column is read
republished_records AS MATERIALIZED (
    SELECT rc.record_id, rc.contract_key FROM record_contract rc
    SEMI JOIN (SELECT contract_key FROM sizes WHERE n > 1) s ON s.contract_key IS NOT DISTINCT FROM rc.contract_key
),
single AS (
    SELECT
        rc.contract_key, r.buyer_siret, r.contract_id, r.kind, r.notification_date, r.start_date,
        r.publication_date, r.publication_date AS last_publication_date, r.buyer_name, r.uid,
        r.nature, r.objet, r.procedure, r.cpv, r.amount, r.duration_months, r.place_code,
        r.place_name, r.format, r.source_file, r.resource_id, CAST(1 AS BIGINT) AS record_count,
        CAST(r.source_file IS NOT NULL AS BIGINT) AS file_count, r.modification_count,
        r.record_id AS first_record_id
    FROM records r
    JOIN record_contract rc USING (record_id)
    ANTI JOIN republished_records x USING (record_id)
),
republished AS (
    SELECT
        rc.contract_key,
        arg_min(r.buyer_siret, r.record_id) AS buyer_siret,
        arg_min(r.contract_id, r.record_id) AS contract_id,
        arg_min(r.kind, r.record_id) AS kind,
        arg_min(r.notification_date, r.record_id) AS notification_date,
        min(r.start_date) AS start_date,
        min(r.publication_date) AS publication_date,
        max(r.publication_date) AS last_publication_date,
        arg_min(r.buyer_name, r.record_id) FILTER (WHERE r.buyer_name IS NOT NULL) AS buyer_name,
        arg_min(r.uid, r.record_id) AS uid,
        arg_min(r.nature, r.record_id) AS nature,
        arg_min(r.objet, r.record_id) AS objet,
        arg_min(r.procedure, r.record_id) AS procedure,
        arg_min(r.cpv, r.record_id) AS cpv,
        arg_max(r.amount, r.record_id) AS amount,
        arg_max(r.duration_months, r.record_id) AS duration_months,
        arg_min(r.place_code, r.record_id) AS place_code,
        arg_min(r.place_name, r.record_id) AS place_name,
        arg_min(r.format, r.record_id) AS format,
        -- the file in which the earliest declared publication appears (the first read on a tie:
        -- without the record id, two files publishing on the same day gave either, run to run)
        arg_min(r.source_file, (coalesce(r.publication_date, DATE '9999-12-31'), r.record_id)) AS source_file,
        arg_min(r.resource_id, (coalesce(r.publication_date, DATE '9999-12-31'), r.record_id)) AS resource_id,
        count(*) AS record_count,
        count(DISTINCT r.source_file) AS file_count,
        max(r.modification_count) AS modification_count,
        min(r.record_id) AS first_record_id
    FROM records r
    JOIN republished_records rc USING (record_id)
    GROUP BY rc.contract_key
)
SELECT * FROM single
UNION ALL BY NAME
SELECT * FROM republished;

-- Modifications are republished with their contract: one row per contract and modification,
-- identified by its id (or its position when it has none) and its notification date.
CREATE OR REPLACE TABLE modifications AS
SELECT
    rc.contract_key,
    arg_min(r.buyer_siret, r.record_id) AS buyer_siret,
    arg_min(r.contract_id, r.record_id) AS contract_id,
    arg_min(r.kind, r.record_id) AS kind,
    coalesce(m.modification_id, '#' || CAST(m.position AS VARCHAR)) AS modification_key,
    arg_min(m.modification_id, r.record_id) AS modification_id,
    min(m.position) AS position,
    m.notification_date,
    min(m.publication_date) AS publication_date,
    arg_max(m.amount, r.record_id) AS amount,
    arg_max(m.duration_months, r.record_id) AS duration_months,
    arg_min(m.objet, r.record_id) AS objet,
    arg_min(r.source_file, (coalesce(m.publication_date, DATE '9999-12-31'), r.record_id)) AS source_file,
    count(*) AS record_count
FROM record_modifications m
JOIN records r USING (record_id)
JOIN record_contract rc USING (record_id)
GROUP BY rc.contract_key, coalesce(m.modification_id, '#' || CAST(m.position AS VARCHAR)), m.notification_date;
