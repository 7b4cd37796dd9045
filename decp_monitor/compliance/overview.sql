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
