"""
### Gold build

Every hour, rebuilds the gold tables from `silver.events` for the hour that just ended
(`data_interval_start` .. `data_interval_end`), with the batch job `include/spark/build_gold.py`:

| gold table | grain |
| --- | --- |
| `gold.daily_active_users` | event_date, platform (+ `all`): DAU, WAU (7 days ending event_date) |
| `gold.sessions` | one row per session: user key, platform, app version, duration, views, converted |
| `gold.sessions_daily` | event_date, platform: sessions, conversion, bounces, session length |
| `gold.funnel_daily` | event_date, platform: viewers -> carted -> purchased, and rates |
| `gold.revenue_daily` | event_date, product (+ catalog category/brand), country (+ geo seed), platform, currency |
| `gold.app_errors_daily` | event_date, platform, app version: events, errors, fatal errors, error rate |

**Which partitions a run rewrites**: the interval's dates, plus the `event_date` of every silver row
that arrived (`ingested_at`) during the interval, late events included; WAU and sessions widen that
by the days they depend on. Each table's partitions are replaced in one Delta `replaceWhere` commit
from all of silver's rows for those dates, so rerunning a run ("Clear") gives identical tables.

**Engine** (by configuration): `spark-submit` locally; on AWS a Glue 5 job (`glue.gold_job`, script
uploaded to the artifacts bucket first) or the Databricks job `databricks.gold_job`, both deferrable.

Lineage: reads the `silver.events` asset, updates the six gold assets. For a date range, use the
`lake_backfill` DAG. Details: `docs/batch.md`.
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag

from edp.batch.tasks import GOLD_JOB, batch_job_tasks
from edp.lake import SILVER_EVENTS
from edp.lake.assets import table_asset, table_assets
from edp.lake.gold import GOLD_TABLES
from edp.orchestration.defaults import platform_dag_kwargs, platform_default_args


@dag(
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    doc_md=__doc__,
    dagrun_timeout=timedelta(minutes=55),
    **platform_dag_kwargs(
        tags=["batch", "gold"],
        default_args=platform_default_args(execution_timeout=timedelta(minutes=45)),
    ),
)
def gold_build() -> None:
    batch_job_tasks(
        GOLD_JOB,
        task_id="build_gold",
        arguments={
            "--start": "{{ data_interval_start.isoformat() }}",
            "--end": "{{ data_interval_end.isoformat() }}",
        },
        inlets=[table_asset(SILVER_EVENTS)],
        outlets=table_assets(GOLD_TABLES.values()),
    )


gold_build_dag = gold_build()
