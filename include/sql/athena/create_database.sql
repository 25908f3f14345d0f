-- The Glue database Athena queries the lake through (platform_config athena.database).
-- Locally: warehouse.lake_catalog records it in <state dir>/warehouse/lake_catalog.json.
CREATE DATABASE IF NOT EXISTS {{ params.database }}
COMMENT 'Event data platform lake: Delta tables registered by the lake_catalog DAG'
