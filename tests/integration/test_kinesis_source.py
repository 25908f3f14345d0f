"""The kinesis_local streaming source against a real moto server: the reader alone, then in Spark."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from edp.stream.kinesis_source import KinesisSourceOptions, KinesisStreamReader, register

pytestmark = pytest.mark.integration

CREDENTIALS = {"awsAccessKey": "testing", "awsSecretKey": "testing"}
PUT_BATCH = 500  # PutRecords' maximum


@pytest.fixture
def stream(kinesis_client) -> Iterator[str]:
    """A fresh 2-shard stream on the shared moto server, deleted afterwards."""
    name = f"it-kinesis-source-{uuid.uuid4().hex[:8]}"
    kinesis_client.create_stream(StreamName=name, ShardCount=2)
    kinesis_client.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
    )
    yield name
    kinesis_client.delete_stream(StreamName=name)


def put_events(client, stream: str, first: int, count: int) -> list[dict[str, Any]]:
    """Put envelopes ``first .. first+count-1`` keyed by user; return what Kinesis acknowledged."""
    sent: list[dict[str, Any]] = []
    for chunk_start in range(first, first + count, PUT_BATCH):
        chunk = range(chunk_start, min(chunk_start + PUT_BATCH, first + count))
        entries = [
            {
                "PartitionKey": f"user-{n % 7}",
                "Data": json.dumps(
                    {
                        "event": {
                            "event_id": f"evt-{n:06d}",
                            "event_type": "page_view",
                            "user_id": f"user-{n % 7}",
                        },
                        "meta": {"request_id": f"req-{n // 10}", "source_app": "it", "contract_version": "1"},
                    }
                ).encode(),
            }
            for n in chunk
        ]
        response = client.put_records(StreamName=stream, Records=entries)
        assert response["FailedRecordCount"] == 0
        sent.extend(
            {"n": n, **entry, "ShardId": ack["ShardId"], "SequenceNumber": ack["SequenceNumber"]}
            for n, entry, ack in zip(chunk, entries, response["Records"], strict=True)
        )
    return sent


def reader_for(moto_server: str, stream: str, **options: str) -> KinesisStreamReader:
    raw = {"streamName": stream, "endpointUrl": moto_server, **CREDENTIALS, **options}
    return KinesisStreamReader(KinesisSourceOptions.from_options(raw))


def event_number(data: bytes) -> int:
    return int(json.loads(data)["event"]["event_id"].removeprefix("evt-"))


def iso_ms(text: str) -> int:
    """Epoch milliseconds of an ISO-8601 timestamp, in exact integer arithmetic."""
    return (dt.datetime.fromisoformat(text) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(
        milliseconds=1
    )


def assert_shard_order(rows: list[tuple]) -> None:
    """Within each shard, rows come in sequence-number order, which is the order they were put in."""
    by_shard: dict[str, list[tuple]] = {}
    for row in rows:
        by_shard.setdefault(row[3], []).append(row)
    for shard_rows in by_shard.values():
        sequence_numbers = [int(row[4]) for row in shard_rows]
        assert sequence_numbers == sorted(sequence_numbers)
        assert len(set(sequence_numbers)) == len(sequence_numbers)
        numbers = [event_number(row[1]) for row in shard_rows]
        assert numbers == sorted(numbers)


# ---- the reader on its own (no Spark) ---------------------------------------------------------


def test_reader_reads_in_bounded_batches_and_replays_each_batch_exactly(
    moto_server: str, stream: str, kinesis_client
) -> None:
    sent = put_events(kinesis_client, stream, 0, 60)
    reader = reader_for(moto_server, stream, maxRecordsPerShard="20")
    start = reader.initialOffset()
    assert start == {"shards": {"shardId-000000000000": None, "shardId-000000000001": None}}

    batches: list[tuple[dict, dict, list[tuple]]] = []
    offset = start
    while True:
        rows_iter, end = reader.read(offset)
        rows = list(rows_iter)
        if end == offset:
            assert rows == []
            break
        per_shard = {shard: sum(1 for r in rows if r[3] == shard) for shard in end["shards"]}
        assert max(per_shard.values()) <= 20
        batches.append((offset, end, rows))
        offset = end

    read_all = [row for _, _, rows in batches for row in rows]
    assert sorted(event_number(r[1]) for r in read_all) == list(range(60))
    assert_shard_order(read_all)

    # Records arriving later must not leak into a replay of an earlier range.
    put_events(kinesis_client, stream, 60, 15)
    for begin, end, rows in batches:
        assert list(reader.readBetweenOffsets(begin, end)) == rows
        assert list(reader.readBetweenOffsets(begin, end)) == rows

    acked = {(s["ShardId"], s["SequenceNumber"]) for s in sent}
    assert {(r[3], r[4]) for r in read_all} == acked

    # Resuming from the last offset yields exactly the new records.
    rows_iter, _ = reader.read(offset)
    assert sorted(event_number(r[1]) for r in rows_iter) == list(range(60, 75))


def test_reader_with_latest_skips_older_records_and_replays_its_first_batch(
    moto_server: str, stream: str, kinesis_client
) -> None:
    put_events(kinesis_client, stream, 0, 10)
    time.sleep(0.05)  # arrival timestamps have millisecond precision
    reader = reader_for(moto_server, stream, initialPosition="latest")
    start = reader.initialOffset()
    assert isinstance(start["initialTimestampMs"], int)
    time.sleep(0.05)
    put_events(kinesis_client, stream, 10, 8)

    rows_iter, end = reader.read(start)
    rows = list(rows_iter)

    assert sorted(event_number(r[1]) for r in rows) == list(range(10, 18))
    # On restart Spark recomputes the first batch's start with initialOffset(): a later anchor.
    time.sleep(0.05)
    restarted = reader_for(moto_server, stream, initialPosition="latest")
    assert list(restarted.readBetweenOffsets(restarted.initialOffset(), end)) == rows


def test_reader_picks_up_child_shards_after_a_split_from_their_trim_horizon(
    moto_server: str, stream: str, kinesis_client
) -> None:
    put_events(kinesis_client, stream, 0, 20)
    reader = reader_for(moto_server, stream)
    rows_iter, offset = reader.read(reader.initialOffset())
    assert len(list(rows_iter)) == 20

    shard = kinesis_client.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]
    low, high = int(shard["HashKeyRange"]["StartingHashKey"]), int(shard["HashKeyRange"]["EndingHashKey"])
    kinesis_client.split_shard(
        StreamName=stream, ShardToSplit=shard["ShardId"], NewStartingHashKey=str((low + high) // 2)
    )
    put_events(kinesis_client, stream, 20, 30)

    rows_iter, end = reader.read(offset)
    rows = list(rows_iter)

    assert sorted(event_number(r[1]) for r in rows) == list(range(20, 50))
    assert len(end["shards"]) == 4
    assert set(end["shards"]) > set(offset["shards"])
    assert list(reader.readBetweenOffsets(offset, end)) == rows


# ---- the source in Spark Structured Streaming -------------------------------------------------


def kinesis_stream_df(spark: SparkSession, moto_server: str, stream: str, **options: str) -> DataFrame:
    register(spark)
    reader = spark.readStream.format("kinesis_local").option("streamName", stream)
    reader = reader.option("endpointUrl", moto_server).option("region", "us-east-1")
    for key, value in {**CREDENTIALS, **options}.items():
        reader = reader.option(key, value)
    return reader.load()


def run_available_now_to_delta(df: DataFrame, table: Path, checkpoint: Path) -> list[int]:
    """Drain the source into ``table`` with Trigger.AvailableNow; return each batch's row count."""
    query = (
        df.writeStream.format("delta")
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start(str(table))
    )
    assert query.awaitTermination(timeout=300)
    assert query.exception() is None
    return [progress["numInputRows"] for progress in query.recentProgress]


def test_streaming_query_delivers_each_record_once_with_metadata_and_resumes_from_its_checkpoint(
    spark: SparkSession, moto_server: str, stream: str, kinesis_client, tmp_path: Path
) -> None:
    table, checkpoint, metrics = tmp_path / "bronze", tmp_path / "checkpoint", tmp_path / "lag.json"
    put_from_ms = time.time_ns() // 1_000_000 - 1000
    first = put_events(kinesis_client, stream, 0, 120)
    df = kinesis_stream_df(spark, moto_server, stream, metricsPath=str(metrics))
    assert df.schema.simpleString() == (
        "struct<partitionKey:string,data:binary,stream:string,shardId:string,"
        "sequenceNumber:string,approximateArrivalTimestamp:timestamp>"
    )

    assert sum(run_available_now_to_delta(df, table, checkpoint)) == 120
    # Epoch milliseconds: collect() would turn timestamps into naive datetimes in the OS time zone.
    rows = (
        spark.read.format("delta")
        .load(str(table))
        .selectExpr("*", "unix_millis(approximateArrivalTimestamp) AS arrival_ms")
        .collect()
    )

    expected = {(s["PartitionKey"], s["Data"], stream, s["ShardId"], s["SequenceNumber"]) for s in first}
    assert len(rows) == 120
    assert {(r.partitionKey, bytes(r.data), r.stream, r.shardId, r.sequenceNumber) for r in rows} == expected
    put_until_ms = time.time_ns() // 1_000_000 + 1000
    assert all(put_from_ms <= row.arrival_ms <= put_until_ms for row in rows)
    assert_shard_order(sorted((tuple(r) for r in rows), key=lambda r: int(r[4])))

    facts = json.loads(metrics.read_text())
    assert facts["stream"] == stream
    assert set(facts["shards"]) == {"shardId-000000000000", "shardId-000000000001"}
    assert facts["maxMillisBehindLatest"] == 0
    newest_ms = max(row.arrival_ms for row in rows)
    assert iso_ms(facts["newestArrivalTimestamp"]) == newest_ms
    assert iso_ms(facts["readAt"]) >= newest_ms
    for shard in facts["shards"].values():
        assert shard["millisBehindLatest"] == 0
        assert shard["sequenceNumber"] is not None

    second = put_events(kinesis_client, stream, 120, 30)
    assert sum(run_available_now_to_delta(df, table, checkpoint)) == 30

    after = spark.read.format("delta").load(str(table)).collect()
    assert len(after) == 150
    assert len({(r.shardId, r.sequenceNumber) for r in after}) == 150
    new_rows = {(r.shardId, r.sequenceNumber) for r in after} - {(r.shardId, r.sequenceNumber) for r in rows}
    assert new_rows == {(s["ShardId"], s["SequenceNumber"]) for s in second}


def test_max_records_per_shard_bounds_batches_and_an_uncommitted_batch_replays_identically(
    spark: SparkSession, moto_server: str, stream: str, kinesis_client, tmp_path: Path
) -> None:
    sent = put_events(kinesis_client, stream, 0, 50)
    per_shard_sent = {
        shard: sum(1 for s in sent if s["ShardId"] == shard) for shard in {s["ShardId"] for s in sent}
    }
    checkpoint = tmp_path / "checkpoint"
    df = kinesis_stream_df(spark, moto_server, stream, maxRecordsPerShard="10")
    batches: dict[int, list[tuple]] = {}
    deliveries: list[int] = []

    def capture(batch: DataFrame, batch_id: int) -> None:
        deliveries.append(batch_id)
        batches[batch_id] = [tuple(row) for row in batch.collect()]

    def run() -> None:
        query = (
            df.writeStream.foreachBatch(capture)
            .option("checkpointLocation", str(checkpoint))
            .trigger(availableNow=True)
            .start()
        )
        assert query.awaitTermination(timeout=300)
        assert query.exception() is None

    run()

    assert len(batches) == max(-(-n // 10) for n in per_shard_sent.values())
    for rows in batches.values():
        for shard in per_shard_sent:
            assert sum(1 for r in rows if r[3] == shard) <= 10
        assert_shard_order(rows)
    delivered = [row for batch_id in sorted(batches) for row in batches[batch_id]]
    assert sorted(event_number(r[1]) for r in delivered) == list(range(50))

    # Forget that the last batch was committed: on restart Spark re-runs it from the offset log,
    # which it reads back through readBetweenOffsets in an executor's Python worker.
    last = max(batches)
    original = batches.pop(last)
    for name in (str(last), f".{last}.crc"):  # the commit and Hadoop's checksum of it
        (checkpoint / "commits" / name).unlink()
    put_events(kinesis_client, stream, 50, 6)
    run()

    assert deliveries.count(last) == 2
    assert batches[last] == original
    assert sorted(event_number(r[1]) for b in batches.values() for r in b) == list(range(56))
