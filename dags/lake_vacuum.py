"""
### Lake vacuum

Every Sunday at 04:00 UTC, runs `VACUUM` on every Delta table of the lake (bronze, silver, quarantine
and gold) with the batch job `include/spark/compact_tables.py --action vacuum --retention-hours 168`:
files that no table version of the last 7 days references are deleted (replaced by compaction, by
gold rebuilds or by silver rebuilds).

The retention can be raised, never lowered below 168 hours: the job refuses shorter values, and
Delta's own retention check stays enabled. Shorter retention would delete files that time travel,
running queries and the streaming job may still read. Time travel therefore reaches back 7 days.

**Engine** (by configuration): `spark-submit` locally; on AWS the compaction job (`glue.compaction_job`
or `databricks.compaction_job`). Details: `docs/batch.md`.
"""

from datetime import timedelta

from airflow.sdk import dag

from edp.batch.tasks import COMPACTION_JOB, batch_job_tasks
from edp.lake import TABLES
from edp.lake.assets import table_assets
from edp.lake.gold import GOLD_TABLES
from edp.orchestration.defaults import platform_dag_kwargs, platform_default_args

DELTA_TABLES = [
    spec
    for spec in {s.name: s for s in [*TABLES.values(), *GOLD_TABLES.values()]}.values()
    if spec.format == "delta"
]


@dag(
    schedule="0 4 * * 0",
    doc_md=__doc__,
    dagrun_timeout=timedelta(hours=6),
    **platform_dag_kwargs(
        tags=["batch", "maintenance"],
        default_args=platform_default_args(
            retry_delay=timedelta(minutes=10), execution_timeout=timedelta(hours=5)
        ),
    ),
)
def lake_vacuum() -> None:
    batch_job_tasks(
        COMPACTION_JOB,
        task_id="vacuum_lake",
        arguments={"--action": "vacuum", "--retention-hours": "168"},
        inlets=table_assets(DELTA_TABLES),
    )


lake_vacuum_dag = lake_vacuum()
