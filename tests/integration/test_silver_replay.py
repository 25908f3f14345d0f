"""Replaying bronze -> silver through the streaming job's transforms reproduces the stream's silver rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from edp.batch.replay import ReplayWouldDropRowsError, replay_merge, replay_rebuild
from edp.lake import BRONZE_EVENTS, SILVER_EVENTS
from edp.stream.tables import ensure_streaming_tables
from edp.stream.transforms import KINESIS_RECORD_SCHEMA
from edp.stream.writer import MicroBatchWriter
from tests.events import envelopes

pytestmark = pytest.mark.integration

SALT = "replay-test-salt-0123456789"
IDS = [f"00000000-0000-4000-8000-0000000001{n:02d}" for n in range(8)]


def silver_content(spark: SparkSession, lake: str) -> list[tuple]:
    """Every silver row, every column, sorted: the full content to compare."""
    df = spark.read.format("delta").load(SILVER_EVENTS.path(lake))
    return sorted((tuple(row) for row in df.collect()), key=repr)


def kinesis_rows(spark: SparkSession, records: list[tuple[bytes, str, str]]) -> DataFrame:
    arrival = datetime.now(tz=UTC)
    return spark.createDataFrame(
        [("pk", data, "edp-events", shard, seq, arrival) for data, shard, seq in records],
        KINESIS_RECORD_SCHEMA,
    )


@pytest.fixture
def streamed_lake(spark: SparkSession, tmp_path: Path) -> str:
    """Bronze and silver written by the streaming job's writer over three micro-batches.

    The batches carry what a real stream carries: a client retry inside one batch (same event_id, two
    shards), a copy re-sent in a later batch, an invalid record (quarantined) and events of two days.
    """
    lake = str(tmp_path / "lake")
    ensure_streaming_tables(spark, lake)
    now = datetime.now(tz=UTC).replace(microsecond=0)
    yesterday = now - timedelta(days=1)

    def record(build, event_id: str, occurred_at: datetime) -> bytes:
        return envelopes.record(build(event_id=event_id, occurred_at=occurred_at), received_at=now)

    batches = [
        [
            (record(envelopes.page_view, IDS[0], now - timedelta(seconds=5)), "shardId-000000000001", "11"),
            (record(envelopes.page_view, IDS[0], now - timedelta(seconds=5)), "shardId-000000000000", "12"),
            (record(envelopes.purchase, IDS[1], yesterday), "shardId-000000000000", "13"),
        ],
        [
            (record(envelopes.page_view, IDS[0], now - timedelta(seconds=5)), "shardId-000000000000", "21"),
            (record(envelopes.page_view, IDS[2], now - timedelta(seconds=3)), "shardId-000000000001", "22"),
            (b'{"event": "not an event"}', "shardId-000000000001", "23"),
        ],
        [
            (
                record(envelopes.purchase, IDS[3], yesterday + timedelta(minutes=1)),
                "shardId-000000000001",
                "31",
            ),
            (record(envelopes.page_view, IDS[4], now - timedelta(seconds=1)), "shardId-000000000000", "32"),
        ],
    ]
    writer = MicroBatchWriter(lake, SALT, app_id="stream-under-test")
    for batch_id, records in enumerate(batches):
        writer.write_micro_batch(kinesis_rows(spark, records), batch_id)
    return lake


def test_the_fixture_stream_deduplicated_retries_and_copies(spark: SparkSession, streamed_lake: str) -> None:
    silver = spark.read.format("delta").load(SILVER_EVENTS.path(streamed_lake))
    assert silver.count() == 5
    kept = (
        silver.where(F.col("event_id") == IDS[0])
        .select("kinesis_shard_id", "kinesis_sequence_number")
        .collect()
    )
    assert [tuple(r) for r in kept] == [("shardId-000000000000", "12")]
    assert spark.read.format("delta").load(BRONZE_EVENTS.path(streamed_lake)).count() == 8


def test_rebuild_from_bronze_reproduces_silver_exactly(spark: SparkSession, streamed_lake: str) -> None:
    original = silver_content(spark, streamed_lake)
    dates = sorted({row[-1] for row in original})

    result = replay_rebuild(spark, streamed_lake, dates[0], dates[-1], SALT)

    assert silver_content(spark, streamed_lake) == original
    assert result.silver_rows_derived == len(original) and result.silver_rows_dropped == 0
    last = DeltaTable.forPath(spark, SILVER_EVENTS.path(streamed_lake)).history(1).collect()[0]
    assert last["operation"] == "WRITE" and last["operationParameters"]["mode"] == "Overwrite"


def test_rebuild_restores_rows_lost_from_silver(spark: SparkSession, streamed_lake: str) -> None:
    original = silver_content(spark, streamed_lake)
    dates = sorted({row[-1] for row in original})
    DeltaTable.forPath(spark, SILVER_EVENTS.path(streamed_lake)).delete(
        F.col("event_id").isin(IDS[1], IDS[2])
    )

    replay_rebuild(spark, streamed_lake, dates[0], dates[-1], SALT)

    assert silver_content(spark, streamed_lake) == original


def test_rebuild_refuses_to_drop_silver_rows_it_cannot_reproduce(
    spark: SparkSession, streamed_lake: str
) -> None:
    path = SILVER_EVENTS.path(streamed_lake)
    silver = spark.read.format("delta").load(path)
    stray = silver.limit(1).withColumn("event_id", F.lit("ffffffff-ffff-4fff-8fff-ffffffffffff"))
    stray.write.format("delta").mode("append").save(path)
    with_stray = silver_content(spark, streamed_lake)
    dates = sorted({row[-1] for row in with_stray})

    with pytest.raises(ReplayWouldDropRowsError, match="drop 1 existing rows"):
        replay_rebuild(spark, streamed_lake, dates[0], dates[-1], SALT)

    assert silver_content(spark, streamed_lake) == with_stray


def test_merge_replay_inserts_only_the_missing_rows_and_is_idempotent(
    spark: SparkSession, streamed_lake: str
) -> None:
    original = silver_content(spark, streamed_lake)
    path = SILVER_EVENTS.path(streamed_lake)
    DeltaTable.forPath(spark, path).delete(F.col("event_id").isin(IDS[0], IDS[3]))
    today = datetime.now(tz=UTC).date()

    replay_merge(spark, streamed_lake, today, today, SALT, run_id="first")
    assert silver_content(spark, streamed_lake) == original
    version = DeltaTable.forPath(spark, path).history(1).collect()[0]["version"]

    replay_merge(spark, streamed_lake, today, today, SALT, run_id="second")
    assert silver_content(spark, streamed_lake) == original
    last = DeltaTable.forPath(spark, path).history(1).collect()[0]
    assert last["version"] == version + 1 and last["operationMetrics"]["numTargetRowsInserted"] == "0"
