"""
### Lake backfill / reprocess

Manual only ("Trigger DAG w/ config"): reprocesses a date range through the chosen layers.

| param | meaning |
| --- | --- |
| `start_date`, `end_date` | the range, UTC dates, both inclusive |
| `layers` | `bronze_to_silver` and/or `silver_to_gold`; both run in that order |
| `silver_mode` | `merge` (default): re-derive silver from bronze `ingest_date` partitions in the range and insert the missing rows (insert-only MERGE on `event_date, event_id`; idempotent, never changes a row). `rebuild`: atomically replace silver `event_date` partitions in the range with rows re-derived from bronze (for a transform fix or a PII salt rotation) |
| `allow_drop` | `rebuild` only: proceed even if the rebuild would drop existing silver rows it cannot reproduce (refused by default) |

* `bronze_to_silver` runs `include/spark/replay_silver.py`: bronze records go through the streaming
  job's own transforms (`event_pipeline`), keeping bronze's `ingested_at` and Kinesis lineage, so a
  replay reproduces the stream's silver rows exactly.
* `silver_to_gold` runs `include/spark/build_gold.py` for the interval `start_date 00:00` ..
  `end_date + 1 day 00:00`: every gold partition of the range (plus late rows ingested in it) is
  rebuilt with `replaceWhere`, so a backfill can be rerun safely.

Rows re-inserted by a merge replay keep their original `ingested_at`, so the hourly `gold_build` does
not see them as new: select `silver_to_gold` as well (the default form does) for the same range.
Details: `docs/batch.md`.
"""

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task

from edp.batch.tasks import GOLD_JOB, REPLAY_JOB, batch_job_tasks
from edp.lake import BRONZE_EVENTS, SILVER_EVENTS
from edp.lake.assets import table_asset, table_assets
from edp.lake.gold import GOLD_TABLES
from edp.orchestration.defaults import platform_dag_kwargs, platform_default_args

BRONZE_TO_SILVER, SILVER_TO_GOLD = "bronze_to_silver", "silver_to_gold"
LAYERS = [BRONZE_TO_SILVER, SILVER_TO_GOLD]


@dag(
    schedule=None,
    doc_md=__doc__,
    params={
        "start_date": Param(
            type="string",
            format="date",
            title="Start date",
            description="First UTC date to reprocess (inclusive), e.g. 2025-06-01.",
        ),
        "end_date": Param(
            type="string",
            format="date",
            title="End date",
            description="Last UTC date to reprocess (inclusive); at most 10 years after the start date.",
        ),
        "layers": Param(
            LAYERS,
            type="array",
            title="Layers",
            description="What to reprocess, in this order: replay bronze -> silver, then rebuild gold from silver.",
            examples=LAYERS,
            items={"type": "string", "enum": LAYERS},
            minItems=1,
            uniqueItems=True,
        ),
        "silver_mode": Param(
            "merge",
            type="string",
            enum=["merge", "rebuild"],
            title="Silver mode",
            description="merge: insert rows missing from silver (safe, idempotent). "
            "rebuild: replace the range's silver partitions with rows re-derived from bronze.",
        ),
        "allow_drop": Param(
            False,
            type="boolean",
            title="Allow dropping silver rows (rebuild only)",
            description="Let a rebuild remove existing silver rows that the replay does not reproduce.",
        ),
    },
    **platform_dag_kwargs(
        tags=["batch", "backfill"],
        default_args=platform_default_args(
            retry_delay=timedelta(minutes=5), execution_timeout=timedelta(hours=12)
        ),
    ),
)
def lake_backfill() -> None:
    @task
    def check_range() -> dict:
        from datetime import date  # noqa: PLC0415

        from airflow.sdk.exceptions import AirflowFailException  # noqa: PLC0415

        params = get_current_context()["params"]
        try:
            start, end = date.fromisoformat(params["start_date"]), date.fromisoformat(params["end_date"])
        except ValueError as exc:  # a bad form value does not get better with retries
            raise AirflowFailException(f"start_date/end_date must be YYYY-MM-DD: {exc}") from None
        if end < start:
            raise AirflowFailException(f"end_date {end} is before start_date {start}")
        return {"start_date": start.isoformat(), "end_date": end.isoformat(), "days": (end - start).days + 1}

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def bronze_to_silver_selected() -> bool:
        return BRONZE_TO_SILVER in get_current_context()["params"]["layers"]

    # Runs whether or not the replay ran, but not after a failed replay.
    @task.short_circuit(ignore_downstream_trigger_rules=False, trigger_rule="none_failed")
    def silver_to_gold_selected() -> bool:
        return SILVER_TO_GOLD in get_current_context()["params"]["layers"]

    replay = batch_job_tasks(
        REPLAY_JOB,
        task_id="replay_bronze_to_silver",
        arguments={
            "--start-date": "{{ params.start_date }}",
            "--end-date": "{{ params.end_date }}",
            "--mode": "{{ params.silver_mode }}",
            "--allow-drop": "{{ params.allow_drop | string | lower }}",
            "--run-id": "{{ run_id }}",
        },
        inlets=[table_asset(BRONZE_EVENTS)],
        outlets=[table_asset(SILVER_EVENTS)],
    )
    rebuild_gold = batch_job_tasks(
        GOLD_JOB,
        task_id="rebuild_gold",
        arguments={
            "--start": "{{ params.start_date }}",
            "--end": "{{ macros.ds_add(params.end_date, 1) }}",
        },
        inlets=[table_asset(SILVER_EVENTS)],
        outlets=table_assets(GOLD_TABLES.values()),
    )
    gate_gold = silver_to_gold_selected()
    check_range() >> bronze_to_silver_selected() >> replay.first
    replay.last >> gate_gold >> rebuild_gold.first


lake_backfill_dag = lake_backfill()
