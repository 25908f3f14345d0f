{#- The plan of this run (warehouse.plan.LoadPlan.to_dict), returned by the plan task. -#}
{%- set load = ti.xcom_pull(task_ids=params.plan_task_id) -%}
-- Stage one load's gold export (Parquet files written by the export task) for merge_gold.sql.
--
-- COPY reads every file below a table's prefix and maps Parquet columns to table columns by position
-- (the staging tables mirror lake_layout.gold). Locally COPY becomes INSERT ... SELECT * FROM
-- read_parquet(...) over the same files on disk (warehouse.transpile). Staging is emptied with DELETE,
-- not TRUNCATE, which would commit the surrounding transaction on Redshift.
{%- set credentials %}IAM_ROLE {% if params.copy_iam_role_arn %}'{{ params.copy_iam_role_arn }}'{% else %}default{% endif %}{% endset %}
{%- for folder in ["daily_active_users", "sessions", "sessions_daily", "funnel_daily", "revenue_daily", "app_errors_daily", "load_dates"] %}

DELETE FROM {{ params.staging_schema }}.{{ folder }};
COPY {{ params.staging_schema }}.{{ folder }}
FROM '{{ load.export_uri }}/{{ folder }}/'
{{ credentials }}
FORMAT AS PARQUET;
{%- endfor %}

-- Dimension rows of this load, one per key (a product or country seen with two spellings keeps the
-- greatest, deterministically), so the MERGE that follows has a unique source.
DELETE FROM {{ params.staging_schema }}.dim_product;
INSERT INTO {{ params.staging_schema }}.dim_product (product_id, product_category, product_brand)
SELECT product_id, MAX(product_category), MAX(product_brand)
FROM {{ params.staging_schema }}.revenue_daily
GROUP BY product_id;

DELETE FROM {{ params.staging_schema }}.dim_country;
INSERT INTO {{ params.staging_schema }}.dim_country (country_code, country_name, region)
SELECT country_code, MAX(country_name), MAX(region)
FROM {{ params.staging_schema }}.revenue_daily
GROUP BY country_code;
