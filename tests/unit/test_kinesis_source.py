"""The kinesis_local source's options, offsets and GetRecords loop; Kinesis is a botocore Stubber."""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from edp.stream.kinesis_source import (
    InitialPosition,
    KinesisOffset,
    KinesisSourceOptions,
    KinesisStreamReader,
)
from edp.stream.kinesis_source import shards as shards_module
from edp.stream.kinesis_source.shards import (
    MAX_EMPTY_PAGES_WHILE_BEHIND,
    KinesisShards,
    ReadBounds,
    StartPosition,
)

pytestmark = pytest.mark.unit

STREAM = "edp-events"
SHARD = "shardId-000000000000"
ARRIVAL = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def _record(sequence_number: int, key: str = "user-1", seconds: float = 0.0) -> dict:
    return {
        "SequenceNumber": str(sequence_number),
        "ApproximateArrivalTimestamp": ARRIVAL + dt.timedelta(seconds=seconds),
        "Data": f'{{"n": {sequence_number}}}'.encode(),
        "PartitionKey": key,
    }


def _page(records: list[dict], behind: int, next_iterator: str | None = "it-next") -> dict:
    page: dict = {"Records": records, "MillisBehindLatest": behind}
    if next_iterator is not None:
        page["NextShardIterator"] = next_iterator
    return page


@pytest.fixture
def options() -> KinesisSourceOptions:
    return KinesisSourceOptions.from_options({"streamName": STREAM})


@pytest.fixture
def stubbed(options: KinesisSourceOptions) -> Iterator[tuple[KinesisShards, Stubber, list[float]]]:
    client = boto3.client(
        "kinesis", region_name="us-east-1", aws_access_key_id="unit", aws_secret_access_key="unit"
    )
    sleeps: list[float] = []
    with Stubber(client) as stubber:
        yield KinesisShards(options, client=client, sleep=sleeps.append), stubber, sleeps
        stubber.assert_no_pending_responses()


def _expect_iterator(stubber: Stubber, **position: object) -> None:
    stubber.add_response(
        "get_shard_iterator",
        {"ShardIterator": "it-0"},
        {"StreamName": STREAM, "ShardId": SHARD, **position},
    )


def test_options_default_to_trim_horizon_ten_thousand_records_and_no_endpoint() -> None:
    parsed = KinesisSourceOptions.from_options({"STREAMNAME": "events"})

    assert parsed.stream_name == "events"
    assert parsed.initial_position is InitialPosition.TRIM_HORIZON
    assert parsed.max_records_per_shard == 10_000
    assert parsed.endpoint_url is None
    assert parsed.metrics_path is None


def test_options_read_every_documented_key_case_insensitively() -> None:
    parsed = KinesisSourceOptions.from_options(
        {
            "streamName": "events",
            "region": "eu-west-1",
            "endpointUrl": "http://127.0.0.1:4566",
            "initialPosition": "LATEST",
            "maxRecordsPerShard": "250",
            "metricsPath": "/tmp/lag.json",
            "awsAccessKey": "key",
            "awsSecretKey": "secret",
        }
    )

    assert (parsed.region, parsed.endpoint_url) == ("eu-west-1", "http://127.0.0.1:4566")
    assert parsed.initial_position is InitialPosition.LATEST
    assert (parsed.max_records_per_shard, parsed.metrics_path) == (250, "/tmp/lag.json")
    assert (parsed.aws_access_key, parsed.aws_secret_key) == ("key", "secret")
    assert "secret" not in repr(parsed)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "streamName"),
        ({"streamName": "s", "initialPosition": "at_timestamp"}, "initialPosition"),
        ({"streamName": "s", "maxRecordsPerShard": "ten"}, "maxRecordsPerShard"),
        ({"streamName": "s", "maxRecordsPerShard": "0"}, "maxRecordsPerShard"),
        ({"streamName": "s", "awsAccessKey": "key"}, "awsSecretKey"),
    ],
)
def test_invalid_options_are_rejected_naming_the_option(raw: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KinesisSourceOptions.from_options(raw)


def test_offset_round_trips_through_json_form_with_shards_sorted() -> None:
    offset = KinesisOffset({"shardId-000000000001": "42", "shardId-000000000000": None}, 1_767_225_600_000)

    as_dict = offset.to_dict()

    assert list(as_dict["shards"]) == ["shardId-000000000000", "shardId-000000000001"]
    assert as_dict == {
        "shards": {"shardId-000000000000": None, "shardId-000000000001": "42"},
        "initialTimestampMs": 1_767_225_600_000,
    }
    assert KinesisOffset.from_dict(as_dict) == offset
    assert "initialTimestampMs" not in KinesisOffset({"s": "1"}).to_dict()


def test_offset_without_a_shards_map_is_rejected() -> None:
    with pytest.raises(ValueError, match="shards"):
        KinesisOffset.from_dict({"partition-1": 3})


def test_start_positions_map_to_the_matching_shard_iterator_types() -> None:
    assert StartPosition().iterator_kwargs() == {"ShardIteratorType": "TRIM_HORIZON"}
    assert StartPosition(after_sequence_number="7").iterator_kwargs() == {
        "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
        "StartingSequenceNumber": "7",
    }
    assert StartPosition(at_timestamp_ms=1_767_268_800_000).iterator_kwargs() == {
        "ShardIteratorType": "AT_TIMESTAMP",
        "Timestamp": ARRIVAL,
    }


def test_list_shard_ids_follows_next_token_pages(stubbed) -> None:
    shards, stubber, _ = stubbed
    stubber.add_response(
        "list_shards",
        {"Shards": [_shard("shardId-000000000001")], "NextToken": "page-2"},
        {"StreamName": STREAM},
    )
    stubber.add_response("list_shards", {"Shards": [_shard("shardId-000000000000")]}, {"NextToken": "page-2"})

    assert shards.list_shard_ids() == ["shardId-000000000000", "shardId-000000000001"]


def _shard(shard_id: str) -> dict:
    return {
        "ShardId": shard_id,
        "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": "1"},
        "SequenceNumberRange": {"StartingSequenceNumber": "1"},
    }


def test_throttled_get_records_is_retried_after_a_backoff(stubbed) -> None:
    shards, stubber, sleeps = stubbed
    _expect_iterator(stubber, ShardIteratorType="TRIM_HORIZON")
    stubber.add_client_error("get_records", "ProvisionedThroughputExceededException", http_status_code=400)
    stubber.add_client_error("get_records", "ProvisionedThroughputExceededException", http_status_code=400)
    stubber.add_response("get_records", _page([_record(1), _record(2)], behind=0))

    read = shards.read_shard(SHARD, StartPosition(), ReadBounds(max_records=100))

    assert [row[4] for row in read.rows] == ["1", "2"]
    assert len(sleeps) == 2
    assert all(0 <= s <= 5.0 for s in sleeps)


def test_expired_iterator_is_renewed_after_the_last_record_read(stubbed) -> None:
    shards, stubber, sleeps = stubbed
    _expect_iterator(stubber, ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber="10")
    stubber.add_response(
        "get_records",
        _page([_record(11), _record(12)], behind=5000),
        {
            "ShardIterator": "it-0",
            "Limit": 3,
        },
    )
    stubber.add_client_error("get_records", "ExpiredIteratorException", http_status_code=400)
    _expect_iterator(stubber, ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber="12")
    stubber.add_response(
        "get_records", _page([_record(13)], behind=4000), {"ShardIterator": "it-0", "Limit": 1}
    )

    read = shards.read_shard(SHARD, StartPosition(after_sequence_number="10"), ReadBounds(max_records=3))

    assert [row[4] for row in read.rows] == ["11", "12", "13"]
    assert read.last_sequence_number == "13"
    assert len(sleeps) == 1


def test_non_retryable_errors_propagate_without_retrying(stubbed) -> None:
    shards, stubber, sleeps = stubbed
    stubber.add_client_error("get_shard_iterator", "ResourceNotFoundException", http_status_code=400)

    with pytest.raises(Exception, match="ResourceNotFoundException"):
        shards.read_shard(SHARD, StartPosition(), ReadBounds())
    assert sleeps == []


def test_empty_pages_while_behind_are_followed_a_bounded_number_of_times(stubbed) -> None:
    shards, stubber, _ = stubbed
    _expect_iterator(stubber, ShardIteratorType="TRIM_HORIZON")
    for _ in range(MAX_EMPTY_PAGES_WHILE_BEHIND):
        stubber.add_response("get_records", _page([], behind=60_000))

    read = shards.read_shard(SHARD, StartPosition(), ReadBounds(max_records=10))

    assert read.rows == []
    assert read.get_records_calls == MAX_EMPTY_PAGES_WHILE_BEHIND
    assert read.millis_behind_latest == 60_000


def test_a_gap_of_empty_pages_before_records_is_crossed(stubbed) -> None:
    shards, stubber, _ = stubbed
    _expect_iterator(stubber, ShardIteratorType="TRIM_HORIZON")
    stubber.add_response("get_records", _page([], behind=60_000))
    stubber.add_response("get_records", _page([], behind=30_000))
    stubber.add_response("get_records", _page([_record(5, seconds=1)], behind=0))

    read = shards.read_shard(SHARD, StartPosition(), ReadBounds(max_records=10))

    assert [row[4] for row in read.rows] == ["5"]
    assert read.newest_arrival == ARRIVAL + dt.timedelta(seconds=1)


def test_a_full_page_at_zero_lag_is_not_taken_as_the_tip(stubbed, monkeypatch) -> None:
    # MillisBehindLatest is a time difference: 0 also when the rest arrived in the same millisecond.
    monkeypatch.setattr(shards_module, "GET_RECORDS_LIMIT", 2)
    shards, stubber, _ = stubbed
    _expect_iterator(stubber, ShardIteratorType="TRIM_HORIZON")
    stubber.add_response(
        "get_records", _page([_record(1), _record(2)], behind=0), {"ShardIterator": "it-0", "Limit": 2}
    )
    stubber.add_response(
        "get_records", _page([_record(3)], behind=0), {"ShardIterator": "it-next", "Limit": 2}
    )

    read = shards.read_shard(SHARD, StartPosition(), ReadBounds(max_records=5))

    assert [row[4] for row in read.rows] == ["1", "2", "3"]
    assert read.get_records_calls == 2


def test_closed_shard_read_stops_at_its_end(stubbed) -> None:
    shards, stubber, _ = stubbed
    _expect_iterator(stubber, ShardIteratorType="TRIM_HORIZON")
    stubber.add_response("get_records", _page([_record(1)], behind=1000, next_iterator=None))

    read = shards.read_shard(SHARD, StartPosition(), ReadBounds(max_records=10))

    assert [row[4] for row in read.rows] == ["1"]
    assert read.get_records_calls == 1


def test_available_now_cutoff_excludes_records_that_arrived_later(stubbed) -> None:
    shards, stubber, _ = stubbed
    _expect_iterator(stubber, ShardIteratorType="TRIM_HORIZON")
    stubber.add_response("get_records", _page([_record(1), _record(2, seconds=2)], behind=0))
    cutoff_ms = int((ARRIVAL + dt.timedelta(seconds=1)).timestamp() * 1000)

    read = shards.read_shard(SHARD, StartPosition(), ReadBounds(max_records=10, arrival_cutoff_ms=cutoff_ms))

    assert [row[4] for row in read.rows] == ["1"]
    assert read.last_sequence_number == "1"


def test_replay_stops_after_its_end_sequence_number_inclusive(stubbed) -> None:
    shards, stubber, _ = stubbed
    _expect_iterator(stubber, ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber="1")
    stubber.add_response("get_records", _page([_record(2), _record(3), _record(4)], behind=0))

    read = shards.read_shard(
        SHARD, StartPosition(after_sequence_number="1"), ReadBounds(until_sequence_number="3")
    )

    assert [row[4] for row in read.rows] == ["2", "3"]


def test_replay_that_cannot_reach_its_end_offset_fails_instead_of_losing_records(stubbed) -> None:
    shards, stubber, _ = stubbed
    _expect_iterator(stubber, ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber="1")
    stubber.add_response("get_records", _page([_record(2)], behind=0))

    with pytest.raises(RuntimeError, match="before its end offset 9"):
        shards.read_shard(
            SHARD, StartPosition(after_sequence_number="1"), ReadBounds(until_sequence_number="9")
        )


def test_rows_follow_the_databricks_kinesis_column_order_in_utc(stubbed) -> None:
    shards, stubber, _ = stubbed
    _expect_iterator(stubber, ShardIteratorType="TRIM_HORIZON")
    stubber.add_response("get_records", _page([_record(1, key="user-9")], behind=0))

    (row,) = shards.read_shard(SHARD, StartPosition(), ReadBounds()).rows

    assert row == ("user-9", b'{"n": 1}', STREAM, SHARD, "1", ARRIVAL)
    assert row[5].utcoffset() == dt.timedelta(0)


def test_shard_access_pickles_without_its_boto3_client(stubbed) -> None:
    shards, _, _ = stubbed

    restored = pickle.loads(pickle.dumps(shards))

    assert restored._client is None
    assert restored.options == shards.options


def test_a_metrics_file_that_cannot_be_written_does_not_fail_the_read(stubbed, tmp_path, caplog) -> None:
    shards, stubber, _ = stubbed
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    options = KinesisSourceOptions.from_options(
        {"streamName": STREAM, "metricsPath": str(blocker / "lag.json")}
    )
    reader = KinesisStreamReader(options, shards=shards)
    stubber.add_response("list_shards", {"Shards": [_shard(SHARD)]}, {"StreamName": STREAM})
    _expect_iterator(stubber, ShardIteratorType="TRIM_HORIZON")
    stubber.add_response("get_records", _page([_record(1)], behind=0))

    rows, end = reader.read({"shards": {SHARD: None}})

    assert [row[4] for row in rows] == ["1"]
    assert end == {"shards": {SHARD: "1"}}
    assert "cannot write metrics" in caplog.text
