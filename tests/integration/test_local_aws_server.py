"""The local Kinesis endpoint keeps every record under concurrent producers and reads in order."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import create_stream

pytestmark = pytest.mark.integration


def read_all(client, stream: str) -> dict[str, list[dict]]:
    by_shard: dict[str, list[dict]] = {}
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records: list[dict] = []
        while True:
            page = client.get_records(ShardIterator=iterator, Limit=333)
            records.extend(page["Records"])
            iterator = page["NextShardIterator"]
            if not page["Records"]:
                break
        by_shard[shard["ShardId"]] = records
    return by_shard


def test_concurrent_put_records_lose_nothing_and_sequence_numbers_are_unique(kinesis_client) -> None:
    stream = create_stream(kinesis_client, f"concurrency-{uuid.uuid4().hex[:8]}", shards=2)
    payloads = [[f"{producer}-{i}".encode() for i in range(250)] for producer in range(8)]

    def produce(batch: list[bytes]) -> None:
        for start in range(0, len(batch), 50):
            chunk = batch[start : start + 50]
            response = kinesis_client.put_records(
                StreamName=stream, Records=[{"Data": d, "PartitionKey": d.decode()} for d in chunk]
            )
            assert response["FailedRecordCount"] == 0

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(produce, payloads))

    by_shard = read_all(kinesis_client, stream)
    received = [r["Data"] for records in by_shard.values() for r in records]
    assert sorted(received) == sorted(d for batch in payloads for d in batch)
    for records in by_shard.values():
        sequence_numbers = [int(r["SequenceNumber"]) for r in records]
        assert sequence_numbers == sorted(set(sequence_numbers))


def test_reads_resume_exactly_after_a_sequence_number(kinesis_client) -> None:
    stream = create_stream(kinesis_client, f"resume-{uuid.uuid4().hex[:8]}", shards=1)
    for i in range(30):
        kinesis_client.put_record(StreamName=stream, Data=str(i).encode(), PartitionKey="p")
    shard = kinesis_client.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    first = read_all(kinesis_client, stream)[shard]
    iterator = kinesis_client.get_shard_iterator(
        StreamName=stream,
        ShardId=shard,
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        StartingSequenceNumber=first[9]["SequenceNumber"],
    )["ShardIterator"]
    page = kinesis_client.get_records(ShardIterator=iterator, Limit=5)
    assert [r["Data"] for r in page["Records"]] == [str(i).encode() for i in range(10, 15)]
    assert page["MillisBehindLatest"] >= 0
