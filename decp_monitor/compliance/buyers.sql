-- One row per SIRET seen anywhere, with counts over the assessment window, a verdict and its
-- reasons. Needs buyer_universe (buyer_universe.sql) and siret_problems (filled by compute()).


CREATE OR REPLACE TABLE buyer_compliance AS
WITH contract_stats AS (
    SELECT
        buyer_siret,
        count(*) AS contracts_total,
        count(*) FILTER (WHERE in_window) AS contracts_in_window,
        count(*) FILTER (WHERE in_window AND status = 'on_time') AS n_on_time,
        count(*) FILTER (WHERE in_window AND status = 'late') AS n_late,
        count(*) FILTER (WHERE in_window AND status = 'declared_on_time_observed_late') AS n_declared_on_time_observed_late,
        count(*) FILTER (WHERE in_window AND status = 'no_publication_date') AS n_no_publication_date,
        count(*) FILTER (WHERE in_window AND status = 'no_notification_date') AS n_no_notification_date,
        count(*) FILTER (WHERE in_window AND status = 'published_before_notification') AS n_published_before_notification,
        median(delay_days) FILTER (WHERE in_window AND list_contains(getvariable('decp_assessed_statuses'), status)) AS median_delay_days,
        quantile_cont(delay_days, 0.9) FILTER (WHERE in_window AND list_contains(getvariable('decp_assessed_statuses'), status)) AS p90_delay_days,
        min(notification_date) AS first_notification_date,
        max(notification_date) AS last_notification_date,
        max(last_publication_date) FILTER (WHERE last_publication_date <= getvariable('decp_as_of')) AS last_declared_publication,
        max(observed_date) FILTER (WHERE observed_source IN ('file_name', 'resource_created_at')
                                     AND observed_date <= getvariable('decp_as_of')) AS last_observed_file,
        -- the name of its latest contract; on a tie the last by name (every pick below breaks its
        -- ties by value: arg_max/mode/any_value alone keep whichever row the parallel aggregate
        -- meets first, and two builds of the same data named the same buyer differently)
        arg_max(buyer_name, (coalesce(notification_date, DATE '1900-01-01'), buyer_name)) FILTER (WHERE buyer_name IS NOT NULL AND buyer_name <> '') AS buyer_name,
    FROM contract_compliance
    WHERE buyer_siret IS NOT NULL
    GROUP BY buyer_siret
),
-- Platforms and datasets per buyer, from a small pre-aggregate (mode() and list(DISTINCT) over
-- a million contracts directly cost more than all the counts above).
source_counts AS (
    SELECT buyer_siret, platform, dataset_id, count(*) AS n
    FROM contract_compliance
    WHERE buyer_siret IS NOT NULL
    GROUP BY ALL
),
buyer_sources AS (
    SELECT
        buyer_siret,
        list(DISTINCT dataset_id) FILTER (WHERE dataset_id IS NOT NULL) AS dataset_ids,
        -- the platform of most of its contracts; on a tie the first by name (arg_max alone kept
        -- whichever the parallel aggregate met first: two builds of the same data disagreed)
        arg_min(platform, (-n, platform)) FILTER (WHERE platform IS NOT NULL) AS platform
    FROM (
        SELECT buyer_siret, platform, dataset_id,
               sum(n) OVER (PARTITION BY buyer_siret, platform) AS n
        FROM source_counts
    )
    GROUP BY buyer_siret
),
modification_stats AS (
    SELECT
        buyer_siret,
        count(*) FILTER (WHERE in_window) AS modifications_in_window,
        count(*) FILTER (WHERE in_window AND status = 'late') AS n_modifications_late,
        max(publication_date) FILTER (WHERE publication_date <= getvariable('decp_as_of')) AS last_modification_publication
    FROM modification_compliance
    WHERE buyer_siret IS NOT NULL
    GROUP BY buyer_siret
),
declaration_rows AS (
    SELECT
        coalesce(d.siret, nullif(trim(d.siret_raw), '')) AS buyer_siret,
        d.url_profil_acheteur,
        coalesce(cd.organization_name, cd.title) AS declaring_platform
    FROM declarations d
    LEFT JOIN catalog_resources cr ON cr.resource_id = d.resource_id
    LEFT JOIN catalog_datasets cd ON cd.dataset_id = cr.dataset_id
),
declaration_stats AS (
    SELECT
        buyer_siret,
        list(DISTINCT url_profil_acheteur ORDER BY url_profil_acheteur)
            FILTER (WHERE url_profil_acheteur IS NOT NULL AND url_profil_acheteur <> '') AS profile_urls,
        -- the platform that declared it most often; on a tie the first by name
        arg_min(declaring_platform, (-n, declaring_platform)) FILTER (WHERE declaring_platform IS NOT NULL)
            AS declaring_platform
    FROM (SELECT *, count(*) OVER (PARTITION BY buyer_siret, declaring_platform) AS n FROM declaration_rows)
    GROUP BY 1
),
dataset_stats AS (
    SELECT
        buyer_siret,
        list(DISTINCT dataset_id) AS dataset_ids,
        -- the dataset's title names the buyer: "Données essentielles des marchés publics - {nom}";
        -- with several datasets, the first by id that names it
        arg_min(title_name, dataset_id) FILTER (WHERE title_name IS NOT NULL) AS title_name,
        -- the organisation of most of its datasets; on a tie the first by name
        arg_min(organization_name, (-n, organization_name)) FILTER (WHERE organization_name IS NOT NULL)
            AS organization_name
    FROM (
        SELECT nullif(trim(extras_siret), '') AS buyer_siret, dataset_id, organization_name,
               nullif(trim(regexp_extract(title, '[-–—]\s*([^-–—]+)$', 1)), '') AS title_name,
               count(*) OVER (PARTITION BY nullif(trim(extras_siret), ''), organization_name) AS n
        FROM catalog_datasets
        WHERE nullif(trim(extras_siret), '') IS NOT NULL
    )
    GROUP BY 1
),
assembled AS (
    SELECT
        u.buyer_siret,
        u.siret_valid,
        p.problem AS siret_problem,
        d.buyer_siret IS NOT NULL AS declared,
        coalesce(d.profile_urls, []) AS profile_urls,
        coalesce(bs.platform, d.declaring_platform, ds.organization_name) AS platform,
        coalesce(cs.buyer_name, ds.title_name) AS buyer_name,
        list_sort(list_distinct(list_concat(coalesce(bs.dataset_ids, []), coalesce(ds.dataset_ids, [])))) AS dataset_ids,
        ds.buyer_siret IS NOT NULL AS has_own_dataset,
        coalesce(cs.contracts_total, 0) AS contracts_total,
        coalesce(cs.contracts_in_window, 0) AS contracts_in_window,
        coalesce(cs.n_on_time, 0) AS n_on_time,
        coalesce(cs.n_late, 0) AS n_late,
        coalesce(cs.n_declared_on_time_observed_late, 0) AS n_declared_on_time_observed_late,
        coalesce(cs.n_no_publication_date, 0) AS n_no_publication_date,
        coalesce(cs.n_no_notification_date, 0) AS n_no_notification_date,
        coalesce(cs.n_published_before_notification, 0) AS n_published_before_notification,
        coalesce(ms.modifications_in_window, 0) AS modifications_in_window,
        coalesce(ms.n_modifications_late, 0) AS n_modifications_late,
        cs.median_delay_days,
        cs.p90_delay_days,
        cs.first_notification_date,
        cs.last_notification_date,
        greatest(cs.last_declared_publication, cs.last_observed_file, ms.last_modification_publication) AS last_publication_date
    FROM buyer_universe u
    LEFT JOIN siret_problems p USING (buyer_siret)
    LEFT JOIN declaration_stats d USING (buyer_siret)
    LEFT JOIN dataset_stats ds USING (buyer_siret)
    LEFT JOIN contract_stats cs USING (buyer_siret)
    LEFT JOIN buyer_sources bs USING (buyer_siret)
    LEFT JOIN modification_stats ms USING (buyer_siret)
),
rated AS (
    SELECT
        a.*,
        a.n_on_time + a.n_late + a.n_declared_on_time_observed_late AS n_assessed,
        a.n_late + a.n_declared_on_time_observed_late AS n_late_all,
        CAST(a.n_late + a.n_declared_on_time_observed_late AS DOUBLE)
            / nullif(a.n_on_time + a.n_late + a.n_declared_on_time_observed_late, 0) AS late_rate,
        a.last_publication_date < getvariable('decp_stale_since') AS is_stale
    FROM assembled a
),
decided AS (
    SELECT
        r.*,
        CASE
            WHEN NOT r.siret_valid THEN 'invalid_siret'
            WHEN r.contracts_total = 0 THEN 'missing'
            WHEN coalesce(r.is_stale, FALSE) THEN 'stale'
            WHEN r.n_late_all + r.n_modifications_late > 0
             AND coalesce(r.late_rate, 1.0) >= getvariable('decp_late_verdict_min_rate') THEN 'late'
            WHEN getvariable('decp_register_loaded') AND NOT r.declared THEN 'undeclared'
            WHEN r.n_assessed = 0 AND r.n_modifications_late = 0
             AND r.modifications_in_window = 0 THEN 'no_recent_data'
            ELSE 'compliant'
        END AS verdict
    FROM rated r
)
SELECT
    d.buyer_siret,
    CASE WHEN d.siret_valid THEN left(d.buyer_siret, 9) END AS siren,
    d.buyer_name,
    d.siret_valid,
    d.siret_problem,
    d.declared,
    d.profile_urls,
    d.platform,
    len(d.dataset_ids) AS dataset_count,
    d.contracts_total,
    d.contracts_in_window,
    d.n_on_time,
    d.n_late,
    d.n_declared_on_time_observed_late,
    d.n_no_publication_date,
    d.n_no_notification_date,
    d.n_published_before_notification,
    d.modifications_in_window,
    d.n_modifications_late,
    d.late_rate,
    d.median_delay_days,
    d.p90_delay_days,
    d.first_notification_date,
    d.last_notification_date,
    d.last_publication_date,
    d.verdict,
    vl.label AS verdict_label,
    list_filter([
        CASE WHEN NOT d.siret_valid THEN format(getvariable('decp_reason_invalid_siret'), coalesce(d.siret_problem, '?')) END,
        CASE WHEN d.contracts_total = 0 AND d.declared THEN getvariable('decp_reason_missing_declared') END,
        CASE WHEN d.contracts_total = 0 AND NOT d.declared AND d.has_own_dataset THEN getvariable('decp_reason_missing_dataset') END,
        CASE WHEN coalesce(d.is_stale, FALSE) THEN format(getvariable('decp_reason_stale'), fr_date(d.last_publication_date),
             getvariable('decp_stale_months'), fr_date(getvariable('decp_as_of'))) END,
        CASE WHEN d.n_late_all > 0 THEN format(getvariable('decp_reason_late'), fr_count(d.n_late_all, 'contrat', 'contrats'),
             d.n_assessed, replace(format('{:.1f}', 100 * d.late_rate), '.', ',')) END,
        CASE WHEN d.n_declared_on_time_observed_late > 0 THEN format(getvariable('decp_reason_observed_late'),
             fr_count(d.n_declared_on_time_observed_late, 'contrat', 'contrats')) END,
        CASE WHEN d.n_modifications_late > 0 THEN format(getvariable('decp_reason_modifications_late'),
             fr_count(d.n_modifications_late, 'modification', 'modifications'), d.modifications_in_window) END,
        CASE WHEN d.contracts_total > 0 AND getvariable('decp_register_loaded') AND NOT d.declared THEN getvariable('decp_reason_undeclared') END,
        CASE WHEN d.n_no_publication_date > 0 THEN format(getvariable('decp_reason_no_publication_date'),
             fr_count(d.n_no_publication_date, 'contrat', 'contrats')) END,
        CASE WHEN d.n_no_notification_date > 0 THEN format(getvariable('decp_reason_no_notification_date'),
             fr_count(d.n_no_notification_date, 'contrat', 'contrats')) END,
        CASE WHEN d.n_published_before_notification > 0 THEN format(getvariable('decp_reason_published_before_notification'),
             fr_count(d.n_published_before_notification, 'contrat', 'contrats')) END,
        CASE WHEN d.n_late_all > 0 AND d.median_delay_days IS NOT NULL THEN format(getvariable('decp_reason_median_delay'),
             replace(format('{:.0f}', d.median_delay_days), '.', ',')) END,
        CASE WHEN d.verdict = 'no_recent_data' THEN format(getvariable('decp_reason_no_recent_data'),
             fr_date(getvariable('decp_window_start')), fr_date(getvariable('decp_as_of'))) END,
        CASE WHEN d.verdict IN ('compliant', 'undeclared') AND d.n_late_all = 0 AND d.n_assessed > 0
             THEN format(getvariable('decp_reason_compliant'), d.n_assessed,
             fr_date(getvariable('decp_window_start')), fr_date(getvariable('decp_as_of'))) END
    ], lambda x: x IS NOT NULL) AS reasons,
    vl.rank AS severity_rank,
    -- added columns
    d.n_assessed,
    d.n_late_all,
    d.has_own_dataset,
    d.dataset_ids
FROM decided d
LEFT JOIN compliance_vocabulary vl ON vl.vocabulary = 'verdict' AND vl.code = d.verdict;
