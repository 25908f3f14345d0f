-- Register one Delta table of the lake in the Glue catalog for Athena (engine v3 reads Delta natively:
-- the schema and the current file list come from the table's _delta_log, so no columns are declared
-- and no partition maintenance is needed). Rendered per table: params.database, params.table,
-- params.location (lake_layout's path of the table). Locally the same statement registers the table
-- with the DuckDB-over-delta-rs engine (warehouse.lake_catalog).
CREATE EXTERNAL TABLE IF NOT EXISTS {{ params.database }}.{{ params.table }}
LOCATION '{{ params.location }}'
TBLPROPERTIES ('table_type' = 'DELTA')
