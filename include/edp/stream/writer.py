"""The ``foreachBatch`` writer: bronze append, quarantine append, silver insert-only MERGE, idempotently.

Why each write is idempotent
----------------------------
Structured Streaming re-runs the last micro-batch (same ``batch_id``, same offsets) after a crash
between a table commit and the checkpoint's commit. Every write below carries Delta's transaction
identifier ``(txnAppId, txnVersion=batch_id)``; Delta records it in the same commit as the data and
skips a later write whose version is not newer, so a replayed batch adds nothing:

* appends (bronze, quarantine): the ``txnAppId``/``txnVersion`` writer options;
* the MERGE: the ``spark.databricks.delta.write.txnAppId``/``txnVersion`` session confs, Delta's
  idempotent-DML mechanism (checked against delta-spark 4.4 in the integration tests). The MERGE only
  inserts missing ``event_id``s, so it is idempotent by construction as well.

``txnAppId`` is ``<query name>-<streaming query id>``. The query id lives in the checkpoint, so a
restart from the same checkpoint continues its versions, while a fresh checkpoint (batch ids restart
at 0) gets a new app id instead of being silently skipped as "already written".

Why MERGE insert-only rather than watermark dedup
-------------------------------------------------
``dropDuplicatesWithinWatermark`` keeps event ids in state store only for the watermark delay: a copy
arriving later (a client retry days later, a producer replay, re-reading the stream from
TRIM_HORIZON) is inserted again, and resetting the checkpoint forgets all state. An insert-only MERGE
on ``event_id`` checks the table itself, so it is exact across micro-batches, restarts, replays and
checkpoint resets, and needs no state store. Its cost is bounded by the lateness bound: the condition
names the batch's ``event_date`` values as literals, so Delta prunes the target to those partitions,
and every valid event's ``occurred_at`` lies within ``MAX_EVENT_AGE`` (30 days) before its receive
time, so a batch touches at most ~31 daily partitions (in practice today's and yesterday's).
A duplicate is the same ``event_id`` with the same ``occurred_at`` (a retry or replay resends the
identical event); a reused id with a different event date is a different row, which the silver
uniqueness expectation reports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from delta.exceptions import ConcurrentAppendException, ConcurrentDeleteReadException
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from edp.lake import BRONZE_EVENTS, QUARANTINE_EVENTS, SILVER_EVENTS, STREAM_EVENTS_QUERY
from edp.stream.transforms import (
    apply_pii_policy,
    dedupe_within_batch,
    parse_envelopes,
    split_valid_invalid,
    to_bronze,
)

MERGE_CONFLICTS = (ConcurrentAppendException, ConcurrentDeleteReadException)
MERGE_ATTEMPTS = 3
MERGE_RETRY_DELAY_S = 1.0
TXN_APP_ID_CONF = "spark.databricks.delta.write.txnAppId"
TXN_VERSION_CONF = "spark.databricks.delta.write.txnVersion"
QUERY_ID_PROPERTY = "sql.streaming.queryId"  # set by Spark on the thread running a micro-batch

log = logging.getLogger(__name__)


def append_idempotent(df: DataFrame, path: str, app_id: str, batch_id: int) -> None:
    """Append ``df`` to the Delta table at ``path`` unless ``(app_id, batch_id)`` was already committed."""
    (
        df.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", batch_id)
        .save(path)
    )


@contextlib.contextmanager
def dml_transaction(spark: SparkSession, app_id: str, batch_id: int) -> Iterator[None]:
    """Make the Delta DML run inside the block idempotent for ``(app_id, batch_id)``."""
    spark.conf.set(TXN_APP_ID_CONF, app_id)
    spark.conf.set(TXN_VERSION_CONF, str(batch_id))
    try:
        yield
    finally:
        spark.conf.unset(TXN_APP_ID_CONF)
        spark.conf.unset(TXN_VERSION_CONF)


def merge_new_events(events: DataFrame, path: str, app_id: str, batch_id: int) -> None:
    """Insert the events whose ``event_id`` is not yet in silver; never updates or deletes a row."""
    spark = events.sparkSession
    dates = sorted(row[0] for row in events.select("event_date").distinct().collect())
    if not dates:
        return
    # Literal dates prune the target to the batch's partitions (see the module docstring).
    in_dates = ", ".join(f"DATE'{day.isoformat()}'" for day in dates)
    condition = f"t.event_date IN ({in_dates}) AND t.event_date = s.event_date AND t.event_id = s.event_id"
    for attempt in range(1, MERGE_ATTEMPTS + 1):
        try:
            with dml_transaction(spark, app_id, batch_id):
                (
                    DeltaTable.forPath(spark, path)
                    .alias("t")
                    .merge(events.alias("s"), condition)
                    .whenNotMatchedInsertAll()
                    .execute()
                )
            return
        except MERGE_CONFLICTS as exc:
            # Compaction (OPTIMIZE) of a partition this MERGE read commits first: nothing of ours was
            # committed, so running the same insert-only MERGE again is safe; fail after a few tries.
            if attempt == MERGE_ATTEMPTS:
                raise
            log.warning(
                "silver MERGE of batch %s conflicted (%s); retry %d", batch_id, type(exc).__name__, attempt
            )
            time.sleep(MERGE_RETRY_DELAY_S * attempt)


def _running_query_id(spark: SparkSession) -> str | None:
    """The id Spark sets on the thread running a micro-batch (classic sessions only)."""
    try:
        return spark.sparkContext.getLocalProperty(QUERY_ID_PROPERTY)
    except Exception:  # Spark Connect sessions have no SparkContext
        return None


def _checkpoint_query_id(spark: SparkSession, checkpoint_dir: str | None) -> str | None:
    """The query id Spark stores in ``<checkpoint>/metadata`` (``{"id": "..."}``) when a query starts."""
    if not checkpoint_dir:
        return None
    lines = spark.read.text(f"{checkpoint_dir.rstrip('/')}/metadata").collect()
    return json.loads(lines[0].value)["id"] if lines else None


@dataclasses.dataclass
class MicroBatchWriter:
    """``foreachBatch`` function of the streaming job; an instance is called once per micro-batch.

    :param lake_root: root the table paths of :mod:`lake_layout` are resolved against.
    :param pii_salt: salt of the PII hashes (:func:`edp.stream.pii.load_pii_salt`).
    :param query_name: prefix of the Delta ``txnAppId``.
    :param app_id: fixed ``txnAppId`` for calls outside a streaming query (tests, backfills);
        by default it is derived from the running streaming query's id.
    :param checkpoint_dir: the query's checkpoint, where the query id is read from when the session
        has no ``SparkContext`` to ask (Spark Connect, e.g. Databricks shared clusters).
    """

    lake_root: str
    pii_salt: str
    query_name: str = STREAM_EVENTS_QUERY
    app_id: str | None = None
    checkpoint_dir: str | None = None

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        self.write_micro_batch(batch_df, batch_id)

    def txn_app_id(self, spark: SparkSession) -> str:
        if not self.app_id:
            query_id = _running_query_id(spark) or _checkpoint_query_id(spark, self.checkpoint_dir)
            if not query_id:
                raise RuntimeError("no streaming query id: pass app_id or checkpoint_dir to MicroBatchWriter")
            # The id cannot change while this writer's query runs; remember it.
            self.app_id = f"{self.query_name}-{query_id}"
        return self.app_id

    def write_micro_batch(self, batch_df: DataFrame, batch_id: int) -> None:
        """Write one micro-batch to bronze, quarantine and silver; a replay of ``batch_id`` is a no-op."""
        app_id = self.txn_app_id(batch_df.sparkSession)
        ingested_at = datetime.now(tz=UTC)
        # Read the source once: every table below is derived from these cached rows.
        raw = batch_df.persist()
        try:
            if raw.isEmpty():
                return
            bronze = to_bronze(raw, ingested_at=ingested_at)
            append_idempotent(bronze, BRONZE_EVENTS.path(self.lake_root), app_id, batch_id)
            self._write_parsed(parse_envelopes(bronze), app_id, batch_id)
        finally:
            raw.unpersist()
        log.info("batch %s written (txnAppId %s)", batch_id, app_id)

    def _write_parsed(self, parsed: DataFrame, app_id: str, batch_id: int) -> None:
        parsed = parsed.persist()  # the contract check (a Python UDF) runs once per record
        try:
            split = split_valid_invalid(parsed)
            # Skipping empty writes keeps the tables' logs from growing by a commit per idle batch.
            if not split.quarantine.isEmpty():
                append_idempotent(split.quarantine, QUARANTINE_EVENTS.path(self.lake_root), app_id, batch_id)
            silver = apply_pii_policy(dedupe_within_batch(split.valid), self.pii_salt)
            merge_new_events(silver, SILVER_EVENTS.path(self.lake_root), app_id, batch_id)
        finally:
            parsed.unpersist()
