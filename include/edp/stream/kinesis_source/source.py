"""``format("kinesis_local")``: a Structured Streaming source for Kinesis on open-source Spark.

Databricks ships ``format("kinesis")``; open-source Spark has none. This source gives local runs
(moto's server as the endpoint) the same output schema, so the streaming job is the same code on
both: ``partitionKey STRING, data BINARY, stream STRING, shardId STRING, sequenceNumber STRING,
approximateArrivalTimestamp TIMESTAMP``. It is built on Spark 4.2's Python data source API over
boto3; offsets are described in :mod:`edp.stream.kinesis_source.offsets`.

Why ``SimpleDataSourceStreamReader`` and not ``DataSourceStreamReader``
-----------------------------------------------------------------------
A ``DataSourceStreamReader`` plans a batch on the driver (``latestOffset``) and reads it on
executors (``partitions``/``read``). Kinesis has no API that returns a shard's newest sequence
number: ListShards/DescribeStream give only the starting number of open shards, and a LATEST
iterator yields no position until a record arrives. ``latestOffset`` would therefore have to call
GetRecords to find where the batch ends, and the executors would call GetRecords again for the
same records: twice the calls and bytes against Kinesis' per-shard read limits (5 calls/s,
2 MB/s), and no parallelism gained that the first read had not already paid for.

``SimpleDataSourceStreamReader.read(start)`` reads the records and the end offset in one pass, in
the driver-side Python worker; Spark caches them and ships them to the JVM with the plan, so each
record is read once. ``readBetweenOffsets(start, end)`` re-reads a batch only on recovery (a batch
in the offset log but not committed) and is exact: per shard, the records AFTER the start sequence
number up to and including the end one. The costs: one process reads all shards, one after another
(fine for a local 2-shard stream: see ``benchmarks/kinesis_source.py``), and admission control
lives in ``read`` (``maxRecordsPerShard``), because Spark gives simple readers no ReadLimit.
Trigger.AvailableNow is supported: ``prepareForTriggerAvailableNow`` pins the wall-clock time,
and reads ignore records that arrived after it, so an availableNow run always ends.

Known limits: child shards after a reshard are read as soon as they are listed, not after their
parents are drained (per-key order across a reshard is not guaranteed); ``latest`` is pinned by
wall-clock time (AT_TIMESTAMP), so clock skew against Kinesis shifts it by the skew.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pyspark.sql.datasource import DataSource, SimpleDataSourceStreamReader
from pyspark.sql.streaming.datasource import SupportsTriggerAvailableNow
from pyspark.sql.types import StructType

from edp.stream.kinesis_source.metrics import lag_facts, write_metrics
from edp.stream.kinesis_source.offsets import KinesisOffset
from edp.stream.kinesis_source.options import InitialPosition, KinesisSourceOptions
from edp.stream.kinesis_source.shards import KinesisShards, ReadBounds, Row, ShardRead, StartPosition

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

FORMAT_NAME = "kinesis_local"
SCHEMA = (
    "partitionKey STRING, data BINARY, stream STRING, shardId STRING, "
    "sequenceNumber STRING, approximateArrivalTimestamp TIMESTAMP"
)


class KinesisDataSource(DataSource):
    """Kinesis stream as a streaming DataFrame with the schema of Databricks' kinesis source."""

    @classmethod
    def name(cls) -> str:
        return FORMAT_NAME

    def schema(self) -> str:
        return SCHEMA

    def simpleStreamReader(self, schema: StructType) -> KinesisStreamReader:
        return KinesisStreamReader(KinesisSourceOptions.from_options(self.options))


class KinesisStreamReader(SimpleDataSourceStreamReader, SupportsTriggerAvailableNow):
    """Reads every shard of one stream from per-shard sequence numbers (see the module docstring).

    :param options: parsed source options.
    :param shards: shard access to use instead of one built from ``options`` (tests).
    :param clock: wall clock in epoch seconds (pins ``latest`` and Trigger.AvailableNow).
    """

    def __init__(
        self,
        options: KinesisSourceOptions,
        *,
        shards: KinesisShards | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.shards = shards or KinesisShards(options)
        self._clock = clock
        self._available_now_cutoff_ms: int | None = None
        self._newest_arrivals: dict[str, dt.datetime] = {}

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def initialOffset(self) -> dict[str, Any]:
        anchor = self._now_ms() if self.options.initial_position is InitialPosition.LATEST else None
        shard_ids = self.shards.list_shard_ids()
        return KinesisOffset({shard_id: None for shard_id in shard_ids}, anchor).to_dict()

    def prepareForTriggerAvailableNow(self) -> None:
        self._available_now_cutoff_ms = self._now_ms()

    @staticmethod
    def _start_position(offset: KinesisOffset, shard_id: str) -> StartPosition:
        if shard_id not in offset.shards:
            return StartPosition()  # a shard that appeared after this offset: TRIM_HORIZON
        sequence_number = offset.shards[shard_id]
        if sequence_number is not None:
            return StartPosition(after_sequence_number=sequence_number)
        return StartPosition(at_timestamp_ms=offset.initial_timestamp_ms)

    def read(self, start: dict[str, Any]) -> tuple[Iterator[Row], dict[str, Any]]:
        """Up to ``maxRecordsPerShard`` new records per shard after ``start``, and the offset after them."""
        began, started = dt.datetime.now(tz=dt.UTC), time.perf_counter()
        begin = KinesisOffset.from_dict(start)
        bounds = ReadBounds(
            max_records=self.options.max_records_per_shard,
            arrival_cutoff_ms=self._available_now_cutoff_ms,
        )
        reads: dict[str, ShardRead] = {}
        rows: list[Row] = []
        # Shards no longer listed (past retention) leave the offset; new ones join it.
        for shard_id in self.shards.list_shard_ids():
            reads[shard_id] = self.shards.read_shard(shard_id, self._start_position(begin, shard_id), bounds)
            rows.extend(reads[shard_id].rows)
        end = KinesisOffset(
            {sid: read.last_sequence_number or begin.shards.get(sid) for sid, read in reads.items()},
            begin.initial_timestamp_ms,
        )
        self._record_metrics(reads, end, began, started)
        # A list iterator: Spark's prefetch cache copies it, which a generator would not allow.
        return iter(rows), end.to_dict()

    def readBetweenOffsets(self, start: dict[str, Any], end: dict[str, Any]) -> Iterator[Row]:
        """Exactly the records of the batch ``(start, end]``: after each shard's start, up to its end."""
        begin, finish = KinesisOffset.from_dict(start), KinesisOffset.from_dict(end)
        # The end offset carries the `latest` anchor of the original run (the start of the first
        # batch is recomputed by initialOffset() on restart).
        begin = KinesisOffset(begin.shards, finish.initial_timestamp_ms)
        rows: list[Row] = []
        for shard_id, last in finish.shards.items():
            if last is None or last == begin.shards.get(shard_id, None):
                continue
            read = self.shards.read_shard(
                shard_id, self._start_position(begin, shard_id), ReadBounds(until_sequence_number=last)
            )
            rows.extend(read.rows)
        return iter(rows)

    def commit(self, end: dict[str, Any]) -> None:
        """Nothing to release: Kinesis keeps no consumer position; the checkpoint is the position."""

    def _record_metrics(
        self, reads: dict[str, ShardRead], end: KinesisOffset, began: dt.datetime, started: float
    ) -> None:
        for shard_id, read in reads.items():
            newest = read.newest_arrival
            if newest is not None and (
                shard_id not in self._newest_arrivals or newest > self._newest_arrivals[shard_id]
            ):
                self._newest_arrivals[shard_id] = newest
        if self.options.metrics_path is None:
            return
        duration_ms = (time.perf_counter() - started) * 1000
        facts = lag_facts(
            self.options.stream_name,
            reads,
            {sid: ts for sid, ts in self._newest_arrivals.items() if sid in reads},
            end.shards,
            read_at=began + dt.timedelta(milliseconds=duration_ms),
            duration_ms=duration_ms,
        )
        try:
            write_metrics(self.options.metrics_path, facts)
        except OSError as error:
            # Lag facts are a side channel: losing one must not fail the batch that carries data.
            logger.warning("kinesis_local: cannot write metrics to %s: %s", self.options.metrics_path, error)


def register(spark: SparkSession) -> None:
    """Make ``spark.readStream.format("kinesis_local")`` available in ``spark``.

    The package is pickled by value into Spark's Python workers, so they need boto3 and pyspark
    but not this package on their path (no ``--py-files`` entry, no PYTHONPATH to remember).
    """
    from pyspark import cloudpickle  # noqa: PLC0415 - pyspark's own copy, the one that pickles the source

    cloudpickle.register_pickle_by_value(sys.modules[__package__])
    spark.dataSource.register(KinesisDataSource)
