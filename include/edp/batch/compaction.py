"""Small-file compaction (OPTIMIZE, Z-order) of the partitions an interval touched, and VACUUM.

The streaming job commits every few seconds, so each bronze and silver partition collects thousands
of small files a day. OPTIMIZE rewrites a partition's files into few files of about the target size
(bin-packing), optionally clustered by Z-order on the columns queries filter on, in a commit flagged
``dataChange=false``: readers and the streaming job's blind appends are unaffected, the content is
unchanged. Each partition is optimized in its own commit, so a conflict with a concurrent writer
costs one partition's retry, not the whole run.

Which partitions: those the interval touched that were *closed* by its end
(:func:`edp.lake.intervals.closed_dates`): bronze ``ingest_date`` partitions of those days, and the
silver ``event_date`` partitions that received rows (``ingested_at``) during the interval, late
events included. The still-open current day is left to the next run.

VACUUM deletes files no table version within the retention window references. The retention is at
least :data:`MIN_VACUUM_RETENTION_HOURS` (7 days): shorter would break time travel that recent and,
worse, delete files that a still-running reader or the streaming job may open. Lower values are refused
here, before Delta's own ``retentionDurationCheck`` (which this code never disables) is consulted. A
longer retention is honoured as given (Delta 4 would otherwise silently use the table property).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentDeleteDeleteException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    DeltaConcurrentModificationException,
)
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from edp.batch.policy import (  # noqa: F401 - re-exported: the policy belongs with the operations
    DEFAULT_TARGET_FILE_MB,
    DEFAULT_ZORDER,
    MIN_VACUUM_RETENTION_HOURS,
    RetentionTooShortError,
    check_retention,
)
from edp.lake import TableSpec
from edp.lake.intervals import Interval, closed_dates, ingest_event_date_bounds

MAX_FILE_SIZE_CONF = "spark.databricks.delta.optimize.maxFileSize"
MIN_FILE_SIZE_CONF = "spark.databricks.delta.optimize.minFileSize"
# Delta 4 ignores VACUUM's retention argument (unless 0) in favour of the table's
# delta.deletedFileRetentionDuration; we honour the argument so a longer retention is really kept.
# Delta's retentionDurationCheck (retention >= that table property) stays on.
RETENTION_WINDOW_IGNORE_CONF = "spark.databricks.delta.vacuum.retentionWindowIgnore.enabled"
CONFLICTS = (
    DeltaConcurrentModificationException,
    ConcurrentAppendException,
    ConcurrentDeleteReadException,
    ConcurrentDeleteDeleteException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
)
CONFLICT_ATTEMPTS = 3

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PartitionCompaction:
    """What OPTIMIZE did to one partition."""

    table: str
    partition: str
    files_removed: int
    files_added: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def set_target_file_size(spark: SparkSession, target_mb: int) -> None:
    """Bin-pack into files of about ``target_mb``; files already that large are left alone."""
    if target_mb < 1:
        raise ValueError(f"target file size must be at least 1 MB, got {target_mb}")
    size = str(target_mb * 1024 * 1024)
    spark.conf.set(MAX_FILE_SIZE_CONF, size)
    spark.conf.set(MIN_FILE_SIZE_CONF, size)


def bronze_partitions(interval: Interval) -> list[date]:
    """Closed ``ingest_date`` partitions of the interval."""
    return closed_dates(interval)


def silver_partitions(silver: DataFrame, interval: Interval) -> list[date]:
    """Closed ``event_date`` partitions that received rows during the interval (late rows included)."""
    closed = closed_dates(interval)
    if not closed:
        return []
    first, last = ingest_event_date_bounds(interval)
    touched = (
        silver.where(F.col("event_date").between(first, min(last, closed[-1])))
        .where((F.col("ingested_at") >= interval.start) & (F.col("ingested_at") < interval.end))
        .select("event_date")
        .distinct()
    )
    return sorted(row[0] for row in touched.collect())


def _with_conflict_retry(action: Callable[[], DataFrame], what: str) -> DataFrame:
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return action()
        except CONFLICTS as exc:
            if attempt == CONFLICT_ATTEMPTS:
                raise
            log.warning(
                "%s conflicted with a concurrent commit (%s); retry %d", what, type(exc).__name__, attempt
            )
            time.sleep(2.0 * attempt)
    raise AssertionError("unreachable")


def optimize_partitions(
    spark: SparkSession,
    spec: TableSpec,
    lake_root: str,
    partitions: Sequence[date],
    zorder: Sequence[str] = (),
) -> list[PartitionCompaction]:
    """OPTIMIZE each listed partition of ``spec`` (Z-ordered by ``zorder`` when given)."""
    path = spec.path(lake_root)
    if not partitions or not DeltaTable.isDeltaTable(spark, path):
        return []
    (column,) = spec.partition_columns
    results = []
    for day in sorted(set(partitions)):
        where = f"{column} = DATE'{day.isoformat()}'"
        started = time.monotonic()

        def run(where: str = where) -> DataFrame:
            builder = DeltaTable.forPath(spark, path).optimize().where(where)
            return builder.executeZOrderBy(*zorder) if zorder else builder.executeCompaction()

        metrics = _with_conflict_retry(run, f"OPTIMIZE {spec.name} {where}").collect()[0]["metrics"]
        result = PartitionCompaction(
            spec.name,
            where,
            int(metrics["numFilesRemoved"]),
            int(metrics["numFilesAdded"]),
            round(time.monotonic() - started, 3),
        )
        log.info("optimized %s", result)
        results.append(result)
    return results


def vacuum_tables(
    spark: SparkSession, specs: Sequence[TableSpec], lake_root: str, retention_hours: float
) -> dict[str, str]:
    """VACUUM each existing Delta table of ``specs``; ``{table: path}`` of those vacuumed."""
    check_retention(retention_hours)
    spark.conf.set(RETENTION_WINDOW_IGNORE_CONF, "false")
    done = {}
    for spec in specs:
        path = spec.path(lake_root)
        if spec.format != "delta" or not DeltaTable.isDeltaTable(spark, path):
            continue
        DeltaTable.forPath(spark, path).vacuum(retention_hours)
        done[spec.name] = path
        log.info("vacuumed %s (retention %g h)", spec.name, retention_hours)
    return done
