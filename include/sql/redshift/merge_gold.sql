{#- The plan of this run (warehouse.plan.LoadPlan.to_dict), returned by the plan task. -#}
{%- set load = ti.xcom_pull(task_ids=params.plan_task_id) -%}
-- Publish the staged load: replace each fact table's planned event_date partitions, upsert the
-- dimensions, record the load.
--
-- ONE transaction: on Redshift the statements are sent as one BatchExecuteStatement (all or nothing,
-- by the Data API's contract); the local runner wraps them in BEGIN ... COMMIT. The partitions to
-- replace come from staging load_dates, so a partition that became empty in gold empties here too,
-- and rerunning the same load (or interval) leaves exactly the same rows: delete-insert by interval keys.
-- Redshift's MERGE allows an alias on the source only, so the target is named in full.
{%- set facts = [
    ("gold.daily_active_users", "daily_active_users", "fact_daily_active_users",
     "event_date, platform, dau, wau"),
    ("gold.sessions", "sessions", "fact_sessions",
     "session_id, anonymous_id, user_key, platform, app_version, country_code, started_at, ended_at, duration_seconds, event_count, page_views, screen_views, converted, event_date"),
    ("gold.sessions_daily", "sessions_daily", "fact_sessions_daily",
     "event_date, platform, sessions, users, converted_sessions, conversion_rate, bounced_sessions, bounce_rate, avg_duration_seconds, median_duration_seconds, avg_events_per_session"),
    ("gold.funnel_daily", "funnel_daily", "fact_funnel_daily",
     "event_date, platform, viewers, carted, purchased, view_to_cart_rate, cart_to_purchase_rate, view_to_purchase_rate"),
    ("gold.revenue_daily", "revenue_daily", "fact_revenue_daily",
     "event_date, product_id, product_category, product_brand, country_code, country_name, region, platform, currency, orders, units, revenue"),
    ("gold.app_errors_daily", "app_errors_daily", "fact_app_errors_daily",
     "event_date, platform, app_version, events, errors, fatal_errors, error_rate"),
] %}
{%- for gold_table, staged, fact, columns in facts %}

DELETE FROM {{ params.schema }}.{{ fact }}
WHERE event_date IN (
    SELECT event_date FROM {{ params.staging_schema }}.load_dates WHERE table_name = '{{ gold_table }}'
);
INSERT INTO {{ params.schema }}.{{ fact }} ({{ columns }}, load_id)
SELECT {{ columns }}, '{{ load.load_id }}'
FROM {{ params.staging_schema }}.{{ staged }};
{%- endfor %}

MERGE INTO {{ params.schema }}.dim_product
USING {{ params.staging_schema }}.dim_product AS src
ON dim_product.product_id = src.product_id
WHEN MATCHED THEN UPDATE SET
    product_category = src.product_category, product_brand = src.product_brand, updated_at = GETDATE()
WHEN NOT MATCHED THEN INSERT (product_id, product_category, product_brand, updated_at)
    VALUES (src.product_id, src.product_category, src.product_brand, GETDATE());

MERGE INTO {{ params.schema }}.dim_country
USING {{ params.staging_schema }}.dim_country AS src
ON dim_country.country_code = src.country_code
WHEN MATCHED THEN UPDATE SET
    country_name = src.country_name, region = src.region, updated_at = GETDATE()
WHEN NOT MATCHED THEN INSERT (country_code, country_name, region, updated_at)
    VALUES (src.country_code, src.country_name, src.region, GETDATE());

DELETE FROM {{ params.schema }}.load_audit WHERE load_id = '{{ load.load_id }}';
{%- for gold_table, staged, fact, columns in facts %}
INSERT INTO {{ params.schema }}.load_audit
    (load_id, table_name, interval_start, interval_end, partitions, row_count, loaded_at)
SELECT
    '{{ load.load_id }}', '{{ fact }}',
    CAST('{{ load.interval_start_utc }}' AS TIMESTAMP), CAST('{{ load.interval_end_utc }}' AS TIMESTAMP),
    (SELECT COUNT(*) FROM {{ params.staging_schema }}.load_dates WHERE table_name = '{{ gold_table }}'),
    COUNT(*), GETDATE()
FROM {{ params.staging_schema }}.{{ staged }};
{%- endfor %}
