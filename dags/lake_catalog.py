"""
### Lake catalog (Athena)

Daily (and on demand), registers every Delta table of the lake for ad hoc SQL: a Glue database
(`athena.database`) and one `CREATE EXTERNAL TABLE IF NOT EXISTS ... TBLPROPERTIES ('table_type'='DELTA')`
per table (`include/sql/athena/`). Athena engine v3 reads the schema and the current files from each
table's `_delta_log`, so there are no columns to keep in sync and no partitions to repair: the tables
stay current as the streaming job and `gold_build` commit. Idempotent: existing entries are left alone.

| environment | runs on | query it with |
| --- | --- | --- |
| `aws` | `AthenaOperator` (deferrable), workgroup `athena.workgroup`, results in `s3://<artifacts>/athena-results/` | the Athena console or any Athena client |
| `local` | the same rendered SQL, recorded in `.platform/warehouse/lake_catalog.json` | `python -m edp.serving.lake_catalog "SELECT ... FROM edp_lake.silver_events"` (DuckDB over delta-rs) |

Table names are the lake names with `_` for `.`: `edp_lake.silver_events`, `edp_lake.gold_revenue_daily`.
"""

from datetime import timedelta

from airflow.sdk import dag

from edp.config import get_config
from edp.lake import BRONZE_EVENTS, QUARANTINE_EVENTS, SILVER_EVENTS
from edp.lake.assets import table_asset
from edp.lake.gold import GOLD_TABLES
from edp.orchestration.defaults import platform_dag_kwargs, platform_default_args
from edp.serving.names import sql_dir
from edp.serving.operators import athena_ddl_task

CONFIG = get_config()
DELTA_TABLES = (BRONZE_EVENTS, SILVER_EVENTS, QUARANTINE_EVENTS, *GOLD_TABLES.values())


@dag(
    schedule="@daily",
    doc_md=__doc__,
    template_searchpath=[str(sql_dir(CONFIG))],
    dagrun_timeout=timedelta(minutes=30),
    **platform_dag_kwargs(
        tags=["serving", "athena", "catalog"],
        default_args=platform_default_args(execution_timeout=timedelta(minutes=10)),
    ),
)
def lake_catalog() -> None:
    database = athena_ddl_task(
        "create_database",
        "athena/create_database.sql",
        CONFIG,
        database="default",
        params={"database": CONFIG.athena.database},
    )
    for spec in DELTA_TABLES:
        name = spec.name.replace(".", "_")
        register = athena_ddl_task(
            f"register_{name}",
            "athena/create_delta_table.sql",
            CONFIG,
            params={
                "database": CONFIG.athena.database,
                "table": name,
                "location": spec.path(CONFIG.lake.root),
            },
            inlets=[table_asset(spec)],
        )
        database >> register


lake_catalog_dag = lake_catalog()
