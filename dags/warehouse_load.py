"""
### Warehouse load: quality gates -> warehouse -> BI

Runs whenever `gold_build` (or `lake_backfill`) has rebuilt the gold tables: it is scheduled on the six
gold Assets, so the Assets view shows gold -> `warehouse_load` -> `warehouse.fact_*` -> `dashboard.kpis`.
Nothing reaches the warehouse or the dashboards unless all three quality gates pass.

| step | what it does | aws | local |
| --- | --- | --- | --- |
| `plan_load` | the interval (from the triggering gold run), the gold partitions it rebuilt, pinned Delta versions | delta-rs on S3 | delta-rs on `data/lake` |
| `gate_bronze` | volume and arrival of the interval's bronze records | GX Core checkpoint | same |
| `gate_silver` | the event contract on the interval's silver rows | GX Core checkpoint | same |
| `gate_gold` | gold metrics and rates, keys, and reconciliation with silver | GX Core checkpoint | same |
| `export_gold` | the planned gold partitions as Parquet | `s3://<artifacts>/warehouse/exports/<load>/` | `.platform/warehouse/exports/<load>/` |
| `create_warehouse`, `create_bi_views` | idempotent DDL (`include/sql/redshift/`) | Redshift Data API | DuckDB `.platform/warehouse/warehouse.duckdb` |
| `stage_gold` | `COPY` the export into staging | Redshift `COPY ... FORMAT AS PARQUET` | same file, COPY rewritten to `read_parquet` |
| `merge_gold` | replace the planned partitions of each fact, upsert dimensions: ONE transaction | BatchExecuteStatement | `BEGIN ... COMMIT` |
| `refresh_bi` | refresh what dashboards read | QuickSight SPICE ingestion per dataset, deferrable | rebuilds the dashboard at `http://127.0.0.1:8080/edp-dashboard/` |

A failing gate fails at once (no retries), skips every later step, writes its record
(`.platform/quality/`, `s3://<artifacts>/quality/` on AWS) and raises one `quality_gate_failed` alert
naming the failing expectations (runbook: `docs/runbooks/quality_gate_failed.md`). Data Docs:
`.platform/quality/data_docs/index.html`.

**Idempotent per interval**: the plan is a function of the interval; the merge deletes and re-inserts
exactly the planned `event_date` partitions in one transaction, so clearing a run (or running the same
interval again) leaves the same rows. **Manual runs / backfills**: trigger with `interval_start` and
`interval_end` (ISO-8601, UTC). SQL files: `include/sql/` (rendered by Airflow; transpiled with sqlglot
for DuckDB locally). Suites: `great_expectations/` (`python -m edp.quality.build_context`).
"""

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task

from edp.config import get_config
from edp.lake import BRONZE_EVENTS, SILVER_EVENTS
from edp.lake.assets import table_asset, table_assets
from edp.lake.gold import GOLD_TABLES
from edp.orchestration.defaults import platform_dag_kwargs, platform_default_args
from edp.orchestration.runtime import runtime_config
from edp.quality.operator import QualityGateOperator
from edp.serving.names import TEMPLATE_FILTERS, dashboard_asset, sql_dir, warehouse_assets
from edp.serving.operators import bi_refresh_task, warehouse_sql_task
from edp.serving.templating import PLAN_TASK_ID, redshift_params

CONFIG = get_config()
GOLD_ASSETS = table_assets(GOLD_TABLES.values())
WAREHOUSE_ASSETS = warehouse_assets(CONFIG)
SQL_PARAMS = redshift_params(CONFIG, PLAN_TASK_ID)


@dag(
    schedule=GOLD_ASSETS,
    doc_md=__doc__,
    template_searchpath=[str(sql_dir(CONFIG))],
    user_defined_filters=TEMPLATE_FILTERS,
    dagrun_timeout=timedelta(hours=3),
    # One task at a time: each quality gate loads its interval's slice into pandas, and three side by
    # side would triple the worker's memory for the sake of seconds.
    max_active_tasks=1,
    params={
        "interval_start": Param(
            None,
            type=["null", "string"],
            title="Interval start (manual runs)",
            description="ISO-8601 UTC, inclusive. Leave empty for runs triggered by gold_build.",
        ),
        "interval_end": Param(
            None,
            type=["null", "string"],
            title="Interval end (manual runs)",
            description="ISO-8601 UTC, exclusive.",
        ),
        "min_bronze_rows": Param(
            1,
            type="integer",
            minimum=0,
            title="Bronze volume floor",
            description="The bronze gate fails when the interval brought fewer records.",
        ),
    },
    **platform_dag_kwargs(
        tags=["serving", "quality", "warehouse", "bi"],
        default_args=platform_default_args(execution_timeout=timedelta(minutes=45)),
    ),
)
def warehouse_load() -> None:
    @task(task_id=PLAN_TASK_ID)
    def plan_load() -> dict:
        from edp.lake.reader import storage_options  # noqa: PLC0415 - task-time only
        from edp.serving.plan import build_plan, interval_from_context  # noqa: PLC0415

        context = get_current_context()
        config = runtime_config()
        interval = interval_from_context(context, context["params"])
        return build_plan(config, interval, context["run_id"], storage_options(config)).to_dict()

    gates = [
        QualityGateOperator(
            task_id=f"gate_{layer}",
            layer=layer,
            min_bronze_rows="{{ params.min_bronze_rows }}",
            inlets=inlets,
        )
        for layer, inlets in (
            ("bronze", [table_asset(BRONZE_EVENTS)]),
            ("silver", [table_asset(SILVER_EVENTS)]),
            ("gold", GOLD_ASSETS),
        )
    ]

    @task
    def export_gold() -> dict:
        from edp.lake.reader import storage_options  # noqa: PLC0415
        from edp.serving.export import export_gold as export  # noqa: PLC0415
        from edp.serving.plan import LoadPlan  # noqa: PLC0415

        plan = LoadPlan.from_dict(get_current_context()["ti"].xcom_pull(task_ids=PLAN_TASK_ID))
        return export(plan, storage_options(runtime_config()))

    create = warehouse_sql_task(
        "create_warehouse", "redshift/create_warehouse.sql", CONFIG, params=SQL_PARAMS
    )
    views = warehouse_sql_task("create_bi_views", "redshift/bi_views.sql", CONFIG, params=SQL_PARAMS)
    stage = warehouse_sql_task("stage_gold", "redshift/stage_gold.sql", CONFIG, params=SQL_PARAMS)
    # Gold in, warehouse facts out: the UI's task-level lineage joins the gold assets to the facts here.
    merge = warehouse_sql_task(
        "merge_gold",
        "redshift/merge_gold.sql",
        CONFIG,
        params=SQL_PARAMS,
        inlets=GOLD_ASSETS,
        outlets=WAREHOUSE_ASSETS,
    )
    refresh = bi_refresh_task(
        "refresh_bi", CONFIG, inlets=WAREHOUSE_ASSETS, outlets=[dashboard_asset(CONFIG)]
    )

    plan_load() >> gates
    gates >> export_gold() >> create >> views >> stage >> merge >> refresh


warehouse_load_dag = warehouse_load()
