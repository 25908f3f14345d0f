-- Warehouse objects of the gold layer (Amazon Redshift). Idempotent: runs before every load.
--
-- Rendered by Airflow (Jinja): params.schema (platform_config redshift.schema) and
-- params.staging_schema. Locally the rendered text is transpiled to DuckDB by warehouse.transpile,
-- which drops DISTSTYLE/DISTKEY/SORTKEY/ENCODE (storage tuning only). Fact columns mirror
-- lake_layout.gold exactly, plus load_id (tests/unit/test_warehouse_sql.py checks both).
-- Primary keys are informational on Redshift and enforced by DuckDB locally.

CREATE SCHEMA IF NOT EXISTS {{ params.schema }};
CREATE SCHEMA IF NOT EXISTS {{ params.staging_schema }};

-- Dimensions: small and joined by every fact, so a full copy on each node (DISTSTYLE ALL).

CREATE TABLE IF NOT EXISTS {{ params.schema }}.dim_product (
    product_id       VARCHAR(64)  NOT NULL,
    product_category VARCHAR(128) NOT NULL,
    product_brand    VARCHAR(128) NOT NULL,
    updated_at       TIMESTAMP    NOT NULL,
    PRIMARY KEY (product_id)
)
DISTSTYLE ALL
SORTKEY (product_id);

CREATE TABLE IF NOT EXISTS {{ params.schema }}.dim_country (
    country_code VARCHAR(2)   NOT NULL,
    country_name VARCHAR(128) NOT NULL,
    region       VARCHAR(64)  NOT NULL,
    updated_at   TIMESTAMP    NOT NULL,
    PRIMARY KEY (country_code)
)
DISTSTYLE ALL
SORTKEY (country_code);

-- Facts: every query filters on a date range, so event_date leads each sort key. The daily
-- aggregates are small and spread evenly; sessions and revenue are distributed on their join keys.

CREATE TABLE IF NOT EXISTS {{ params.schema }}.fact_daily_active_users (
    event_date DATE        NOT NULL ENCODE az64,
    platform   VARCHAR(16) NOT NULL ENCODE zstd,
    dau        BIGINT      NOT NULL ENCODE az64,
    wau        BIGINT      NOT NULL ENCODE az64,
    load_id    VARCHAR(128) NOT NULL ENCODE zstd,
    PRIMARY KEY (event_date, platform)
)
DISTSTYLE EVEN
COMPOUND SORTKEY (event_date, platform);

CREATE TABLE IF NOT EXISTS {{ params.schema }}.fact_sessions (
    session_id       VARCHAR(128) NOT NULL,
    anonymous_id     VARCHAR(128) NOT NULL,
    user_key         VARCHAR(128) NOT NULL,
    platform         VARCHAR(16)  NOT NULL,
    app_version      VARCHAR(32)  NOT NULL,
    country_code     VARCHAR(2)   NOT NULL,
    started_at       TIMESTAMP    NOT NULL,
    ended_at         TIMESTAMP    NOT NULL,
    duration_seconds DOUBLE PRECISION NOT NULL,
    event_count      BIGINT       NOT NULL,
    page_views       BIGINT       NOT NULL,
    screen_views     BIGINT       NOT NULL,
    converted        BOOLEAN      NOT NULL,
    event_date       DATE         NOT NULL ENCODE az64,
    load_id          VARCHAR(128) NOT NULL ENCODE zstd,
    PRIMARY KEY (anonymous_id, session_id)
)
DISTSTYLE KEY
DISTKEY (user_key)
COMPOUND SORTKEY (event_date, started_at);

CREATE TABLE IF NOT EXISTS {{ params.schema }}.fact_sessions_daily (
    event_date              DATE        NOT NULL,
    platform                VARCHAR(16) NOT NULL,
    sessions                BIGINT      NOT NULL,
    users                   BIGINT      NOT NULL,
    converted_sessions      BIGINT      NOT NULL,
    conversion_rate         DOUBLE PRECISION,
    bounced_sessions        BIGINT      NOT NULL,
    bounce_rate             DOUBLE PRECISION,
    avg_duration_seconds    DOUBLE PRECISION NOT NULL,
    median_duration_seconds DOUBLE PRECISION NOT NULL,
    avg_events_per_session  DOUBLE PRECISION NOT NULL,
    load_id                 VARCHAR(128) NOT NULL,
    PRIMARY KEY (event_date, platform)
)
DISTSTYLE EVEN
COMPOUND SORTKEY (event_date, platform);

CREATE TABLE IF NOT EXISTS {{ params.schema }}.fact_funnel_daily (
    event_date            DATE        NOT NULL,
    platform              VARCHAR(16) NOT NULL,
    viewers               BIGINT      NOT NULL,
    carted                BIGINT      NOT NULL,
    purchased             BIGINT      NOT NULL,
    view_to_cart_rate     DOUBLE PRECISION,
    cart_to_purchase_rate DOUBLE PRECISION,
    view_to_purchase_rate DOUBLE PRECISION,
    load_id               VARCHAR(128) NOT NULL,
    PRIMARY KEY (event_date, platform)
)
DISTSTYLE EVEN
COMPOUND SORTKEY (event_date, platform);

CREATE TABLE IF NOT EXISTS {{ params.schema }}.fact_revenue_daily (
    event_date       DATE          NOT NULL ENCODE az64,
    product_id       VARCHAR(64)   NOT NULL ENCODE zstd,
    product_category VARCHAR(128)  NOT NULL ENCODE zstd,
    product_brand    VARCHAR(128)  NOT NULL ENCODE zstd,
    country_code     VARCHAR(2)    NOT NULL ENCODE zstd,
    country_name     VARCHAR(128)  NOT NULL ENCODE zstd,
    region           VARCHAR(64)   NOT NULL ENCODE zstd,
    platform         VARCHAR(16)   NOT NULL ENCODE zstd,
    currency         VARCHAR(3)    NOT NULL ENCODE zstd,
    orders           BIGINT        NOT NULL ENCODE az64,
    units            BIGINT        NOT NULL ENCODE az64,
    revenue          DECIMAL(18,2) NOT NULL ENCODE az64,
    load_id          VARCHAR(128)  NOT NULL ENCODE zstd,
    PRIMARY KEY (event_date, product_id, country_code, platform, currency)
)
DISTSTYLE KEY
DISTKEY (product_id)
COMPOUND SORTKEY (event_date, product_id);

CREATE TABLE IF NOT EXISTS {{ params.schema }}.fact_app_errors_daily (
    event_date   DATE        NOT NULL,
    platform     VARCHAR(16) NOT NULL,
    app_version  VARCHAR(32) NOT NULL,
    events       BIGINT      NOT NULL,
    errors       BIGINT      NOT NULL,
    fatal_errors BIGINT      NOT NULL,
    error_rate   DOUBLE PRECISION,
    load_id      VARCHAR(128) NOT NULL,
    PRIMARY KEY (event_date, platform, app_version)
)
DISTSTYLE EVEN
COMPOUND SORTKEY (event_date, platform);

-- One row per load and fact table: what was published, for which interval, when.
CREATE TABLE IF NOT EXISTS {{ params.schema }}.load_audit (
    load_id        VARCHAR(128) NOT NULL,
    table_name     VARCHAR(64)  NOT NULL,
    interval_start TIMESTAMP    NOT NULL,
    interval_end   TIMESTAMP    NOT NULL,
    partitions     BIGINT       NOT NULL,
    row_count      BIGINT       NOT NULL,
    loaded_at      TIMESTAMP    NOT NULL,
    PRIMARY KEY (load_id, table_name)
)
DISTSTYLE ALL
SORTKEY (loaded_at);

-- Staging: one load's export, COPY'd by stage_gold.sql, read by merge_gold.sql. Same columns and
-- order as the Parquet files (lake_layout.gold), because COPY maps Parquet columns by position.

CREATE TABLE IF NOT EXISTS {{ params.staging_schema }}.daily_active_users (
    event_date DATE, platform VARCHAR(16), dau BIGINT, wau BIGINT
)
DISTSTYLE EVEN;

CREATE TABLE IF NOT EXISTS {{ params.staging_schema }}.sessions (
    session_id VARCHAR(128), anonymous_id VARCHAR(128), user_key VARCHAR(128), platform VARCHAR(16),
    app_version VARCHAR(32), country_code VARCHAR(2), started_at TIMESTAMP, ended_at TIMESTAMP,
    duration_seconds DOUBLE PRECISION, event_count BIGINT, page_views BIGINT, screen_views BIGINT,
    converted BOOLEAN, event_date DATE
)
DISTSTYLE EVEN;

CREATE TABLE IF NOT EXISTS {{ params.staging_schema }}.sessions_daily (
    event_date DATE, platform VARCHAR(16), sessions BIGINT, users BIGINT, converted_sessions BIGINT,
    conversion_rate DOUBLE PRECISION, bounced_sessions BIGINT, bounce_rate DOUBLE PRECISION,
    avg_duration_seconds DOUBLE PRECISION, median_duration_seconds DOUBLE PRECISION,
    avg_events_per_session DOUBLE PRECISION
)
DISTSTYLE EVEN;

CREATE TABLE IF NOT EXISTS {{ params.staging_schema }}.funnel_daily (
    event_date DATE, platform VARCHAR(16), viewers BIGINT, carted BIGINT, purchased BIGINT,
    view_to_cart_rate DOUBLE PRECISION, cart_to_purchase_rate DOUBLE PRECISION,
    view_to_purchase_rate DOUBLE PRECISION
)
DISTSTYLE EVEN;

CREATE TABLE IF NOT EXISTS {{ params.staging_schema }}.revenue_daily (
    event_date DATE, product_id VARCHAR(64), product_category VARCHAR(128), product_brand VARCHAR(128),
    country_code VARCHAR(2), country_name VARCHAR(128), region VARCHAR(64), platform VARCHAR(16),
    currency VARCHAR(3), orders BIGINT, units BIGINT, revenue DECIMAL(18,2)
)
DISTSTYLE EVEN;

CREATE TABLE IF NOT EXISTS {{ params.staging_schema }}.app_errors_daily (
    event_date DATE, platform VARCHAR(16), app_version VARCHAR(32), events BIGINT, errors BIGINT,
    fatal_errors BIGINT, error_rate DOUBLE PRECISION
)
DISTSTYLE EVEN;

CREATE TABLE IF NOT EXISTS {{ params.staging_schema }}.load_dates (
    table_name VARCHAR(64), event_date DATE
)
DISTSTYLE ALL;

CREATE TABLE IF NOT EXISTS {{ params.staging_schema }}.dim_product (
    product_id VARCHAR(64), product_category VARCHAR(128), product_brand VARCHAR(128)
)
DISTSTYLE ALL;

CREATE TABLE IF NOT EXISTS {{ params.staging_schema }}.dim_country (
    country_code VARCHAR(2), country_name VARCHAR(128), region VARCHAR(64)
)
DISTSTYLE ALL;
