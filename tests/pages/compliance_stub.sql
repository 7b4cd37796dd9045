-- A minimal stand-in for the compliance engine, used by the dashboard tests only while
-- decp_monitor.compliance is absent. Same column names as docs (COMPLIANCE_CONTRACT), simplest rules.
CREATE OR REPLACE TABLE contract_compliance AS
WITH base AS (
    SELECT c.*, CAST(c.notification_date + INTERVAL 2 MONTH AS DATE) AS deadline,
           CAST((SELECT value FROM meta WHERE key = 'as_of') AS DATE) AS as_of
    FROM contracts c
)
SELECT contract_key, buyer_siret, buyer_name, contract_id, kind, objet, amount, notification_date, start_date,
       publication_date, CAST(NULL AS DATE) AS observed_date, CAST(NULL AS VARCHAR) AS observed_source,
       FALSE AS observed_conclusive,
       'marche_deux_mois' AS rule, 'Marché : publication dans les deux mois' AS rule_label, deadline,
       CAST(publication_date - notification_date AS INTEGER) AS delay_days,
       CAST(publication_date - deadline AS INTEGER) AS days_late,
       CASE WHEN notification_date IS NULL THEN 'no_notification_date'
            WHEN publication_date IS NULL THEN 'no_publication_date'
            WHEN publication_date < notification_date THEN 'published_before_notification'
            WHEN publication_date > deadline THEN 'late' ELSE 'on_time' END AS status,
       CASE WHEN notification_date IS NULL THEN 'Date de notification absente'
            WHEN publication_date IS NULL THEN 'Date de publication absente'
            WHEN publication_date < notification_date THEN 'Publié avant la notification'
            WHEN publication_date > deadline THEN 'En retard' ELSE 'À temps' END AS status_label,
       coalesce(notification_date > as_of - INTERVAL 12 MONTH AND notification_date <= as_of, false) AS in_window,
       source_file, resource_id, CAST(NULL AS VARCHAR) AS dataset_id, record_count, 'Fichiers locaux' AS platform
FROM base;

CREATE OR REPLACE TABLE buyer_compliance AS
WITH sirets AS (
    SELECT siret AS buyer_siret FROM declarations WHERE siret IS NOT NULL
    UNION SELECT extras_siret FROM datasets WHERE extras_siret IS NOT NULL
    UNION SELECT buyer_siret FROM contract_compliance WHERE buyer_siret IS NOT NULL
), agg AS (
    SELECT buyer_siret, any_value(buyer_name) AS buyer_name, count(*) AS contracts_total,
           count(*) FILTER (WHERE in_window) AS contracts_in_window,
           count(*) FILTER (WHERE in_window AND status = 'on_time') AS n_on_time,
           count(*) FILTER (WHERE in_window AND status = 'late') AS n_late,
           count(*) FILTER (WHERE in_window AND status = 'no_publication_date') AS n_no_publication_date,
           median(delay_days) FILTER (WHERE in_window) AS median_delay_days,
           quantile_cont(delay_days, 0.9) FILTER (WHERE in_window) AS p90_delay_days,
           min(notification_date) AS first_notification_date, max(notification_date) AS last_notification_date,
           max(publication_date) AS last_publication_date
    FROM contract_compliance GROUP BY buyer_siret
), v AS (
    SELECT s.buyer_siret, left(s.buyer_siret, 9) AS siren, a.buyer_name,
           length(s.buyer_siret) = 14 AS siret_valid,
           CASE WHEN length(s.buyer_siret) <> 14 THEN 'longueur incorrecte' END AS siret_problem,
           s.buyer_siret IN (SELECT siret FROM declarations) AS declared,
           (SELECT list(url_profil_acheteur) FROM declarations d WHERE d.siret = s.buyer_siret) AS profile_urls,
           'Fichiers locaux' AS platform, 0 AS dataset_count,
           coalesce(a.contracts_total, 0) AS contracts_total, coalesce(a.contracts_in_window, 0) AS contracts_in_window,
           coalesce(a.n_on_time, 0) AS n_on_time, coalesce(a.n_late, 0) AS n_late,
           0 AS n_declared_on_time_observed_late, coalesce(a.n_no_publication_date, 0) AS n_no_publication_date,
           0 AS n_no_notification_date, 0 AS n_published_before_notification,
           0 AS modifications_in_window, 0 AS n_modifications_late,
           a.n_late / nullif(a.n_late + a.n_on_time, 0) AS late_rate,
           a.median_delay_days, a.p90_delay_days, a.first_notification_date, a.last_notification_date,
           a.last_publication_date
    FROM sirets s LEFT JOIN agg a USING (buyer_siret)
)
SELECT *,
       CASE WHEN NOT siret_valid THEN 'invalid_siret' WHEN contracts_total = 0 AND declared THEN 'missing'
            WHEN n_late > 0 THEN 'late' WHEN n_on_time > 0 THEN 'compliant' ELSE 'no_recent_data' END AS verdict,
       CASE WHEN NOT siret_valid THEN 'SIRET invalide' WHEN contracts_total = 0 AND declared THEN 'Déclaré, jamais publié'
            WHEN n_late > 0 THEN 'Publie en retard' WHEN n_on_time > 0 THEN 'En règle' ELSE 'Pas de données récentes' END AS verdict_label,
       CASE WHEN n_late > 0 THEN [n_late || ' contrat(s) publiés plus de deux mois après leur notification.']
            ELSE CAST([] AS VARCHAR[]) END AS reasons,
       CASE WHEN NOT siret_valid THEN 1 WHEN contracts_total = 0 AND declared THEN 2 WHEN n_late > 0 THEN 3
            WHEN n_on_time > 0 THEN 7 ELSE 6 END AS severity_rank
FROM v;
