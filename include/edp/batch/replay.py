"""Re-derive ``silver.events`` from ``bronze.events`` through the streaming job's own transforms.

Bronze keeps every Kinesis record exactly as read, so silver can always be rebuilt from it: after a
lost or damaged silver partition, a transform fix, or a PII salt rotation (a re-keying). Rows go
through the same :mod:`edp.stream.transforms` steps as in the stream (``parse_envelopes`` ->
``split_valid_invalid`` -> dedupe -> ``apply_pii_policy``) and keep bronze's ``ingested_at`` and
Kinesis lineage, so a replay reproduces the stream's rows exactly.

Two modes:

``merge`` (default, safe, idempotent)
    Bronze ``ingest_date`` partitions in the range are re-derived and inserted with the stream's
    insert-only MERGE on ``(event_date, event_id)``: missing rows come back, existing rows are never
    changed or deleted. Running it twice inserts nothing the second time.

``rebuild`` (explicit, for changed transforms or a new salt)
    Silver's ``event_date`` partitions in the range are replaced, in one atomic ``replaceWhere``
    commit, by the rows derived from every bronze partition that can hold events of those dates
    (ingest dates from one day before the range, for client clock skew, to ``MAX_EVENT_AGE`` plus
    ``ingest_lag_days`` after it). Before writing, the rebuild counts existing silver rows it would
    drop; it refuses unless ``allow_drop`` is set. A stream commit into the same partitions during the
    rebuild makes one of the two commits fail (Delta's conflict check), never loses rows.

Dedupe mirrors the stream: within one micro-batch (one ``ingested_at``) the first copy in shard and
sequence order wins (``dedupe_within_batch``'s ordering); across micro-batches the insert-only MERGE
keeps the earliest batch's copy of an ``(event_date, event_id)``.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from edp.contract import MAX_EVENT_AGE
from edp.lake import BRONZE_EVENTS, SILVER_EVENTS
from edp.stream.transforms import apply_pii_policy, parse_envelopes, split_valid_invalid
from edp.stream.writer import merge_new_events

MODES = ("merge", "rebuild")
# Spark 4.2.0 hangs an Arrow Python UDF fed by a columnar (Parquet/Delta) scan: the columnar runner
# writes the input schema where the worker does not expect it and the worker waits forever
# (SPARK-58241, fixed after 4.2.0). The row-based path is used instead; unknown to older Sparks, harmless.
COLUMNAR_UDF_INPUT_CONF = "spark.sql.execution.arrow.pythonUDF.columnarInput.enabled"
DEFAULT_INGEST_LAG_DAYS = 7  # Kinesis' default retention: the stream cannot lag more than that
REPLAY_APP_ID_PREFIX = "silver-replay"


class ReplayWouldDropRowsError(RuntimeError):
    """A rebuild would remove silver rows that the replay from bronze does not reproduce."""


def dedupe_as_stream(events: DataFrame) -> DataFrame:
    """Keep the copy of each event the stream kept (see the module docstring)."""
    in_batch = Window.partitionBy("event_id", "ingested_at").orderBy(
        "kinesis_shard_id", F.length("kinesis_sequence_number"), "kinesis_sequence_number"
    )
    across_batches = Window.partitionBy("event_date", "event_id").orderBy("ingested_at")
    first_in_batch = events.withColumn("_copy", F.row_number().over(in_batch)).where(F.col("_copy") == 1)
    return (
        first_in_batch.withColumn("_copy", F.row_number().over(across_batches))
        .where(F.col("_copy") == 1)
        .drop("_copy")
    )


def silver_from_bronze(bronze: DataFrame, salt: str) -> DataFrame:
    """Bronze rows -> silver rows (exactly the ``silver.events`` schema)."""
    bronze.sparkSession.conf.set(COLUMNAR_UDF_INPUT_CONF, "false")
    valid = split_valid_invalid(parse_envelopes(bronze)).valid
    return apply_pii_policy(dedupe_as_stream(valid), salt)


def bronze_range(spark: SparkSession, lake_root: str, first: date, last: date) -> DataFrame:
    return (
        spark.read.format("delta")
        .load(BRONZE_EVENTS.path(lake_root))
        .where(F.col("ingest_date").between(first, last))
    )


def rebuild_ingest_window(first: date, last: date, ingest_lag_days: int) -> tuple[date, date]:
    """Bronze ``ingest_date`` range that holds every record of events dated ``first`` .. ``last``."""
    return first - timedelta(days=1), last + MAX_EVENT_AGE + timedelta(days=1 + ingest_lag_days)


@dataclasses.dataclass(frozen=True)
class ReplayResult:
    mode: str
    first: date
    last: date
    bronze_first: date
    bronze_last: date
    silver_rows_derived: int
    silver_rows_dropped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in dataclasses.asdict(self).items()}


def replay_merge(
    spark: SparkSession, lake_root: str, first: date, last: date, salt: str, run_id: str
) -> ReplayResult:
    """Insert the silver rows re-derived from bronze ``ingest_date`` ``first`` .. ``last`` that are missing."""
    rows = silver_from_bronze(bronze_range(spark, lake_root, first, last), salt).persist()
    try:
        count = rows.count()
        # A fresh txnAppId per run: Delta skips a (app id, version) it has seen, and a later replay
        # of the same range must still restore rows deleted in between.
        merge_new_events(rows, SILVER_EVENTS.path(lake_root), f"{REPLAY_APP_ID_PREFIX}-{run_id}", 0)
    finally:
        rows.unpersist()
    return ReplayResult("merge", first, last, first, last, count)


def replay_rebuild(
    spark: SparkSession,
    lake_root: str,
    first: date,
    last: date,
    salt: str,
    *,
    ingest_lag_days: int = DEFAULT_INGEST_LAG_DAYS,
    allow_drop: bool = False,
) -> ReplayResult:
    """Replace silver ``event_date`` ``first`` .. ``last`` with the rows re-derived from bronze."""
    bronze_first, bronze_last = rebuild_ingest_window(first, last, ingest_lag_days)
    in_range = F.col("event_date").between(first, last)
    rows = silver_from_bronze(bronze_range(spark, lake_root, bronze_first, bronze_last), salt)
    rows = rows.where(in_range).persist()
    try:
        path = SILVER_EVENTS.path(lake_root)
        current = spark.read.format("delta").load(path).where(in_range).select("event_date", "event_id")
        dropped = current.subtract(rows.select("event_date", "event_id")).count()
        if dropped and not allow_drop:
            raise ReplayWouldDropRowsError(
                f"rebuilding silver {first}..{last} from bronze {bronze_first}..{bronze_last} would drop "
                f"{dropped} existing rows (events no longer valid, or bronze outside that ingest window). "
                "Check them, then rerun with --allow-drop true or a larger --ingest-lag-days."
            )
        count = rows.count()
        predicate = f"event_date >= DATE'{first.isoformat()}' AND event_date <= DATE'{last.isoformat()}'"
        rows.write.format("delta").mode("overwrite").option("replaceWhere", predicate).save(path)
    finally:
        rows.unpersist()
    return ReplayResult("rebuild", first, last, bronze_first, bronze_last, count, dropped)
