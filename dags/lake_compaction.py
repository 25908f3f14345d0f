"""
### Lake compaction

Every day at 03:00 UTC, fixes the streaming layer's small-file problem for the day that just closed:
`OPTIMIZE` of the partitions the data interval (03:00 yesterday .. 03:00 today) touched, with the batch
job `include/spark/compact_tables.py --action optimize`:

* `bronze.events`: `ingest_date` partitions of the closed day, Z-ordered by `shard_id, sequence_number`;
* `silver.events`: every `event_date` partition that received rows during the interval (late events
  included), Z-ordered by `event_type, session_id`.

Files are bin-packed to about 128 MB. OPTIMIZE commits with `dataChange=false`: content is unchanged,
readers and the stream's appends are not disturbed; the three-hour offset leaves the stream's late
writes to yesterday's partitions time to settle. The current day is compacted by the next run.
VACUUM runs weekly in `lake_vacuum`.

**Engine** (by configuration): `spark-submit` locally; on AWS a Glue 5 job (`glue.compaction_job`) or
the Databricks job `databricks.compaction_job`, both deferrable. Details: `docs/batch.md`.
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag

from edp.batch.tasks import COMPACTION_JOB, batch_job_tasks
from edp.lake import BRONZE_EVENTS, SILVER_EVENTS
from edp.lake.assets import table_assets
from edp.orchestration.defaults import platform_dag_kwargs, platform_default_args


@dag(
    schedule=CronDataIntervalTimetable("0 3 * * *", timezone="UTC"),
    doc_md=__doc__,
    dagrun_timeout=timedelta(hours=6),
    **platform_dag_kwargs(
        tags=["batch", "maintenance"],
        default_args=platform_default_args(
            retry_delay=timedelta(minutes=5), execution_timeout=timedelta(hours=5)
        ),
    ),
)
def lake_compaction() -> None:
    # Compaction changes files, not data: the tables are inlets only, so no downstream run triggers.
    batch_job_tasks(
        COMPACTION_JOB,
        task_id="optimize_touched_partitions",
        arguments={
            "--action": "optimize",
            "--start": "{{ data_interval_start.isoformat() }}",
            "--end": "{{ data_interval_end.isoformat() }}",
            "--target-file-mb": "128",
        },
        inlets=table_assets([BRONZE_EVENTS, SILVER_EVENTS]),
    )


lake_compaction_dag = lake_compaction()
