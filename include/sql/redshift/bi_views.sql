-- Reporting views over the gold facts: what the QuickSight datasets (AWS) and the local dashboard read.
-- Rendered by Airflow (params.schema); locally transpiled to DuckDB. Idempotent (CREATE OR REPLACE).
-- Sums over platforms of distinct-user counts (viewers, carted, purchased) count a user once per
-- platform they used; the platform-independent user count is dau/wau (platform = 'all').

CREATE OR REPLACE VIEW {{ params.schema }}.v_kpi_daily AS
WITH users AS (
    SELECT event_date, dau, wau
    FROM {{ params.schema }}.fact_daily_active_users
    WHERE platform = 'all'
),
sessions AS (
    SELECT event_date, SUM(sessions) AS sessions, SUM(converted_sessions) AS converted_sessions,
           SUM(bounced_sessions) AS bounced_sessions
    FROM {{ params.schema }}.fact_sessions_daily
    GROUP BY event_date
),
funnel AS (
    SELECT event_date, SUM(viewers) AS viewers, SUM(carted) AS carted, SUM(purchased) AS purchased
    FROM {{ params.schema }}.fact_funnel_daily
    GROUP BY event_date
),
health AS (
    SELECT event_date, SUM(events) AS events, SUM(errors) AS errors, SUM(fatal_errors) AS fatal_errors
    FROM {{ params.schema }}.fact_app_errors_daily
    GROUP BY event_date
)
SELECT
    u.event_date,
    u.dau,
    u.wau,
    COALESCE(s.sessions, 0) AS sessions,
    COALESCE(s.converted_sessions, 0) AS converted_sessions,
    CASE WHEN s.sessions > 0 THEN CAST(s.converted_sessions AS DOUBLE PRECISION) / s.sessions END AS conversion_rate,
    CASE WHEN s.sessions > 0 THEN CAST(s.bounced_sessions AS DOUBLE PRECISION) / s.sessions END AS bounce_rate,
    COALESCE(f.viewers, 0) AS viewers,
    COALESCE(f.carted, 0) AS carted,
    COALESCE(f.purchased, 0) AS purchased,
    COALESCE(h.events, 0) AS events,
    COALESCE(h.errors, 0) AS errors,
    COALESCE(h.fatal_errors, 0) AS fatal_errors,
    CASE WHEN h.events > 0 THEN CAST(h.errors AS DOUBLE PRECISION) / h.events END AS error_rate
FROM users AS u
LEFT JOIN sessions AS s ON s.event_date = u.event_date
LEFT JOIN funnel AS f ON f.event_date = u.event_date
LEFT JOIN health AS h ON h.event_date = u.event_date;

CREATE OR REPLACE VIEW {{ params.schema }}.v_revenue_daily AS
SELECT
    r.event_date,
    r.currency,
    COALESCE(p.product_category, r.product_category) AS product_category,
    COALESCE(c.region, r.region) AS region,
    r.platform,
    SUM(r.orders) AS product_orders,
    SUM(r.units) AS units,
    SUM(r.revenue) AS revenue
FROM {{ params.schema }}.fact_revenue_daily AS r
LEFT JOIN {{ params.schema }}.dim_product AS p ON p.product_id = r.product_id
LEFT JOIN {{ params.schema }}.dim_country AS c ON c.country_code = r.country_code
GROUP BY r.event_date, r.currency, COALESCE(p.product_category, r.product_category),
         COALESCE(c.region, r.region), r.platform;

CREATE OR REPLACE VIEW {{ params.schema }}.v_app_health_daily AS
SELECT
    event_date,
    platform,
    SUM(events) AS events,
    SUM(errors) AS errors,
    SUM(fatal_errors) AS fatal_errors,
    CASE WHEN SUM(events) > 0 THEN CAST(SUM(errors) AS DOUBLE PRECISION) / SUM(events) END AS error_rate
FROM {{ params.schema }}.fact_app_errors_daily
GROUP BY event_date, platform;
