-- By month of notification: contracts, late share and median delay, nationally (scope
-- 'national', platform NULL) and per platform (scope 'platform').

CREATE OR REPLACE TABLE overview_monthly AS
WITH monthly AS (
    SELECT
        CAST(date_trunc('month', notification_date) AS DATE) AS month,
        coalesce(platform, '(non renseignée)') AS platform,
        status,
        delay_days
    FROM contract_compliance
    WHERE notification_date IS NOT NULL AND notification_date <= getvariable('decp_as_of')
)
SELECT
    month,
    CASE WHEN grouping(platform) = 0 THEN platform END AS platform,
    count(*) AS contracts,
    count(*) FILTER (WHERE list_contains(getvariable('decp_late_statuses'), status)) AS late,
    count(*) FILTER (WHERE status = 'on_time') AS on_time,
    CAST(count(*) FILTER (WHERE list_contains(getvariable('decp_late_statuses'), status)) AS DOUBLE)
        / nullif(count(*) FILTER (WHERE list_contains(getvariable('decp_assessed_statuses'), status)), 0) AS late_share,
    median(delay_days) FILTER (WHERE list_contains(getvariable('decp_assessed_statuses'), status)) AS median_delay_days,
    -- added columns
    CASE WHEN grouping(platform) = 0 THEN 'platform' ELSE 'national' END AS scope,
    count(*) FILTER (WHERE status = 'declared_on_time_observed_late') AS observed_late,
    count(*) FILTER (WHERE list_contains(getvariable('decp_assessed_statuses'), status)) AS assessed
FROM monthly
GROUP BY GROUPING SETS ((month), (month, platform))
ORDER BY month, scope, platform;

-- The overview page's figures, precomputed at build time so that its first display reads a few
-- hundred rows instead of scanning 1.5 M contracts three times. Each table is exactly what the
-- matching function of read/queries.py returns for its default arguments (and it reads them
-- from here only then): same filters, same expressions, same types.

-- overview_headline(): the contract half of the headline. last_notification is bounded by the
-- build date; the reader adds the few contracts notified between the build and the day it reads.
CREATE OR REPLACE TABLE overview_headline AS
SELECT count(*) AS contracts,
       count(*) FILTER (WHERE in_window) AS contracts_in_window,
       count(*) FILTER (WHERE in_window AND list_contains(getvariable('decp_late_statuses'), status)) AS late,
       count(*) FILTER (WHERE in_window AND list_contains(getvariable('decp_assessed_statuses'), status)) AS assessed,
       count(*) FILTER (WHERE in_window AND status = 'no_publication_date') AS no_publication_date,
       median(delay_days) FILTER (WHERE in_window AND list_contains(getvariable('decp_assessed_statuses'), status))
           AS median_delay,
       max(notification_date) FILTER (WHERE notification_date <= current_date) AS last_notification,
       current_date AS computed_on
FROM contract_compliance;

-- monthly(platform, months=36): nationally (platform NULL) and per platform, the 36 months
-- before the assessment date (a partial first month, as the live query counts it).
CREATE OR REPLACE TABLE overview_recent_months AS
SELECT CASE WHEN grouping(platform) = 0 THEN platform END AS platform,
       grouping(platform) = 1 AS national,
       CAST(date_trunc('month', notification_date) AS DATE) AS month,
       count(*) AS contracts,
       count(*) FILTER (WHERE list_contains(getvariable('decp_late_statuses'), status)) AS late,
       count(*) FILTER (WHERE list_contains(getvariable('decp_assessed_statuses'), status)) AS assessed,
       count(*) FILTER (WHERE list_contains(getvariable('decp_late_statuses'), status))
           / nullif(count(*) FILTER (WHERE list_contains(getvariable('decp_assessed_statuses'), status)), 0) AS late_share,
       median(delay_days) FILTER (WHERE list_contains(getvariable('decp_assessed_statuses'), status)) AS median_delay_days
FROM contract_compliance
WHERE notification_date <= getvariable('decp_as_of')
  AND notification_date > getvariable('decp_as_of') - to_months(36)
GROUP BY GROUPING SETS ((month), (platform, month))
ORDER BY national DESC, platform, month;

-- delay_histogram(platform) with its default bins (10 days, clipped to [-30, 365]).
CREATE OR REPLACE TABLE overview_delay_bins AS
SELECT CASE WHEN grouping(platform) = 0 THEN platform END AS platform,
       grouping(platform) = 1 AS national,
       CAST(floor(least(greatest(delay_days, -30), 365) / 10) * 10 AS INTEGER) AS bin_start,
       count(*) AS contracts
FROM contract_compliance
WHERE in_window AND delay_days IS NOT NULL
GROUP BY GROUPING SETS ((bin_start), (platform, bin_start))
ORDER BY national DESC, platform, bin_start;
