"""The streaming job's transformations and its idempotent micro-batch writer, on a local Spark with Delta.

Batches are static DataFrames with the Kinesis source's schema, so each step runs without a stream.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql.types import StringType, StructField, StructType, TimestampType
from pyspark.testing import assertDataFrameEqual

from edp.lake import BRONZE_EVENTS, QUARANTINE_EVENTS, SILVER_EVENTS
from edp.lake.spark_schemas import bronze_schema, quarantine_schema, silver_schema
from edp.stream.tables import SchemaEvolutionError, ensure_streaming_tables, ensure_table, schema_changes
from edp.stream.transforms import (
    KINESIS_RECORD_SCHEMA,
    apply_pii_policy,
    dedupe_within_batch,
    parse_envelopes,
    split_valid_invalid,
    to_bronze,
)
from edp.stream.writer import MicroBatchWriter
from tests.events import envelopes

pytestmark = pytest.mark.integration

SALT = "integration-test-salt"
INGESTED_AT = datetime(2025, 6, 1, 12, 0, 5, tzinfo=UTC)
ARRIVAL = datetime(2025, 6, 1, 12, 0, 1, tzinfo=UTC)
EVENT_A, EVENT_B, EVENT_C, EVENT_D = (f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 5))


def spark_timestamp(*parts: int) -> datetime:
    """Spark hands TIMESTAMP values to Python as naive datetimes in the session time zone (UTC)."""
    return datetime(*parts, tzinfo=UTC).replace(tzinfo=None)


def kinesis_batch(spark: SparkSession, records: Sequence[tuple[bytes, str, str]]) -> DataFrame:
    """Rows of the Kinesis source from ``(payload, shard id, sequence number)``."""
    rows = [("pk", data, "edp-events", shard, seq, ARRIVAL) for data, shard, seq in records]
    return spark.createDataFrame(rows, KINESIS_RECORD_SCHEMA)


def checked(spark: SparkSession, records: Sequence[tuple[bytes, str, str]]):
    bronze = to_bronze(kinesis_batch(spark, records), ingested_at=INGESTED_AT)
    return bronze, split_valid_invalid(parse_envelopes(bronze))


def sha256(value: str) -> str:
    return hashlib.sha256((SALT + value).encode()).hexdigest()


def names(schema: StructType) -> list[str]:
    return [field.name for field in schema.fields]


def test_valid_records_are_typed_and_invalid_ones_are_quarantined_with_their_reason(
    spark: SparkSession,
) -> None:
    unknown = envelopes.page_view(event_id=EVENT_C)
    unknown["event_type"] = "teleport"
    broken = envelopes.purchase(event_id=EVENT_D)
    broken["properties"]["currency"] = "XXX"
    too_old = envelopes.page_view(occurred_at=envelopes.RECEIVED_AT - timedelta(days=31))
    records = [
        (envelopes.record(envelopes.page_view(event_id=EVENT_A)), "shardId-0", "1"),
        (envelopes.record(envelopes.purchase(event_id=EVENT_B)), "shardId-1", "2"),
        (b'{"event": oops', "shardId-0", "3"),
        (envelopes.record(unknown), "shardId-1", "4"),
        (envelopes.record(broken), "shardId-0", "5"),
        (envelopes.record(too_old), "shardId-1", "6"),
    ]

    bronze, split = checked(spark, records)

    assert bronze.schema.simpleString() == bronze_schema().simpleString()
    assert bronze.count() == len(records)
    assertDataFrameEqual(
        split.quarantine.select("sequence_number", "reason_code", "event_id", "event_type"),
        [
            Row(sequence_number="3", reason_code="unparseable_json", event_id=None, event_type=None),
            Row(
                sequence_number="4", reason_code="unknown_event_type", event_id=EVENT_C, event_type="teleport"
            ),
            Row(sequence_number="5", reason_code="schema_violation", event_id=EVENT_D, event_type="purchase"),
            Row(
                sequence_number="6",
                reason_code="late_event",
                event_id=too_old["event_id"],
                event_type="page_view",
            ),
        ],
    )
    assert split.quarantine.schema.simpleString() == quarantine_schema().simpleString()
    reasons = dict(split.quarantine.select("sequence_number", "reason").collect())
    assert "properties.currency" in reasons["5"]
    assert "older than 30 days" in reasons["6"]

    valid = split.valid.select(
        "event_id",
        "event_type",
        "occurred_at",
        "device_screen_width",
        "properties_url",
        "properties_items",
        "meta_received_at",
        "kinesis_sequence_number",
        "event_date",
    )
    assertDataFrameEqual(
        valid,
        [
            Row(
                event_id=EVENT_A,
                event_type="page_view",
                occurred_at=spark_timestamp(2025, 6, 1, 11, 59, 58, 123000),
                device_screen_width=1920,
                properties_url="https://shop.example/products?id=7&email=a@b.example#reviews",
                properties_items=None,
                meta_received_at=spark_timestamp(2025, 6, 1, 12, 0, 0, 123000),
                kinesis_sequence_number="1",
                event_date=date(2025, 6, 1),
            ),
            Row(
                event_id=EVENT_B,
                event_type="purchase",
                occurred_at=spark_timestamp(2025, 6, 1, 11, 59, 59, 123000),
                device_screen_width=1920,
                properties_url=None,
                properties_items=[Row(product_id="sku-1", quantity=2, price=29.95)],
                meta_received_at=spark_timestamp(2025, 6, 1, 12, 0, 0, 123000),
                kinesis_sequence_number="2",
                event_date=date(2025, 6, 1),
            ),
        ],
    )


def test_pii_is_hashed_dropped_or_masked_as_the_contract_marks_it(spark: SparkSession) -> None:
    records = [
        (envelopes.record(envelopes.page_view(event_id=EVENT_A, user_id="user-1")), "shardId-0", "1"),
        (envelopes.record(envelopes.signup(event_id=EVENT_B, email="jane@example.com")), "shardId-0", "2"),
        (envelopes.record(envelopes.app_error(event_id=EVENT_C)), "shardId-0", "3"),
    ]
    _, split = checked(spark, records)

    silver = apply_pii_policy(split.valid, SALT)

    assert silver.schema.simpleString() == silver_schema().simpleString()
    assert not {"device_ip", "properties_email"} & set(silver.columns)
    assertDataFrameEqual(
        silver.select(
            "event_id",
            "user_id",
            "anonymous_id",
            "properties_url",
            "properties_referrer",
            "properties_message",
        ),
        [
            Row(
                event_id=EVENT_A,
                user_id=sha256("user-1"),
                anonymous_id=sha256("anon-42"),
                properties_url="https://shop.example/products",
                properties_referrer="https://search.example/",
                properties_message=None,
            ),
            Row(
                event_id=EVENT_B,
                user_id=sha256("user-2"),
                anonymous_id=sha256("anon-42"),
                properties_url=None,
                properties_referrer=None,
                properties_message=None,
            ),
            Row(
                event_id=EVENT_C,
                user_id=None,
                anonymous_id=sha256("anon-42"),
                properties_url=None,
                properties_referrer=None,
                properties_message="card <number> declined for <email>",
            ),
        ],
    )


def test_dedupe_within_a_batch_keeps_the_first_copy_in_shard_and_sequence_order(spark: SparkSession) -> None:
    copy = envelopes.record(envelopes.page_view(event_id=EVENT_A))
    records = [
        (copy, "shardId-1", "1"),
        (copy, "shardId-0", "10"),
        (copy, "shardId-0", "9"),
        (envelopes.record(envelopes.page_view(event_id=EVENT_B)), "shardId-1", "2"),
    ]
    _, split = checked(spark, records)

    deduped = dedupe_within_batch(split.valid)

    assertDataFrameEqual(
        deduped.select("event_id", "kinesis_shard_id", "kinesis_sequence_number"),
        [Row(EVENT_A, "shardId-0", "9"), Row(EVENT_B, "shardId-1", "2")],
    )


def _table(spark: SparkSession, lake: Path, spec) -> DataFrame:
    return spark.read.format("delta").load(spec.path(str(lake)))


def _versions(spark: SparkSession, lake: Path) -> dict[str, int]:
    return {
        spec.name: DeltaTable.forPath(spark, spec.path(str(lake))).history(1).collect()[0].version
        for spec in (BRONZE_EVENTS, SILVER_EVENTS, QUARANTINE_EVENTS)
    }


def test_micro_batches_land_once_per_event_id_across_batches_replays_and_a_new_checkpoint(
    spark: SparkSession, lake_dir: Path
) -> None:
    ensure_streaming_tables(spark, str(lake_dir))
    late = envelopes.page_view(event_id=EVENT_D, occurred_at=envelopes.RECEIVED_AT - timedelta(days=10))
    event_a = envelopes.record(envelopes.page_view(event_id=EVENT_A))
    first = kinesis_batch(
        spark,
        [
            (event_a, "shardId-0", "1"),
            (event_a, "shardId-1", "2"),  # a producer retry within the batch
            (envelopes.record(envelopes.purchase(event_id=EVENT_B)), "shardId-1", "3"),
            (b"not json", "shardId-0", "4"),
        ],
    )
    second = kinesis_batch(
        spark,
        [
            (event_a, "shardId-0", "5"),  # the same event again, one batch later
            (envelopes.record(envelopes.signup(event_id=EVENT_C)), "shardId-1", "6"),
            (envelopes.record(late), "shardId-0", "7"),  # 10 days late: within the lateness bound
        ],
    )
    writer = MicroBatchWriter(str(lake_dir), SALT, app_id="stream_events-query-1")

    writer.write_micro_batch(first, 0)
    writer.write_micro_batch(second, 1)
    versions = _versions(spark, lake_dir)
    writer.write_micro_batch(second, 1)  # replay after a crash before the checkpoint commit
    writer.write_micro_batch(first, 0)

    assert _versions(spark, lake_dir) == versions  # the replays committed nothing
    expected_silver = [
        Row(EVENT_A, date(2025, 6, 1), "1"),
        Row(EVENT_B, date(2025, 6, 1), "3"),
        Row(EVENT_C, date(2025, 6, 1), "6"),
        Row(EVENT_D, date(2025, 5, 22), "7"),
    ]
    silver = _table(spark, lake_dir, SILVER_EVENTS).select(
        "event_id", "event_date", "kinesis_sequence_number"
    )
    assertDataFrameEqual(silver, expected_silver)
    assert _table(spark, lake_dir, BRONZE_EVENTS).count() == 7
    assertDataFrameEqual(
        _table(spark, lake_dir, QUARANTINE_EVENTS).select("sequence_number", "reason_code"),
        [Row("4", "unparseable_json")],
    )

    # A fresh checkpoint re-reads the stream from TRIM_HORIZON: batch ids restart at 0 under a new query id.
    MicroBatchWriter(str(lake_dir), SALT, app_id="stream_events-query-2").write_micro_batch(first, 0)

    assertDataFrameEqual(silver, expected_silver)
    assert _table(spark, lake_dir, BRONZE_EVENTS).count() == 11  # bronze keeps what was read, twice
    merges = (
        DeltaTable.forPath(spark, SILVER_EVENTS.path(str(lake_dir))).history().where("operation = 'MERGE'")
    )
    assert merges.count() == 3
    assert merges.orderBy("version").collect()[-1].operationMetrics["numTargetRowsInserted"] == "0"


def test_new_nullable_columns_are_added_and_incompatible_changes_refused(
    spark: SparkSession, lake_dir: Path
) -> None:
    full = quarantine_schema()
    older = StructType([f for f in full.fields if f.name != "event_type"])
    path = QUARANTINE_EVENTS.path(str(lake_dir))
    DeltaTable.create(spark).location(path).addColumns(older).partitionedBy("ingest_date").execute()

    ensure_table(spark, QUARANTINE_EVENTS, str(lake_dir))

    evolved = DeltaTable.forPath(spark, path).toDF().schema
    assert names(evolved) == [*names(older), "event_type"]  # Delta adds columns at the end
    assert evolved["event_type"].nullable
    # Writers keep producing the code's column order: Delta appends match columns by name.
    _, split = checked(spark, [(b"[]", "shardId-0", "1")])
    split.quarantine.write.format("delta").mode("append").save(path)
    assert _table(spark, lake_dir, QUARANTINE_EVENTS).select("reason_code", "event_type").collect() == [
        Row("invalid_envelope", None)
    ]

    retyped = StructType([StructField(f.name, TimestampType()) if f.name == "reason" else f for f in full])
    moved = dataclasses.replace(QUARANTINE_EVENTS, relative_path="quarantine/retyped")
    DeltaTable.create(spark).location(moved.path(str(lake_dir))).addColumns(retyped).execute()
    with pytest.raises(SchemaEvolutionError, match="column 'reason' changed type timestamp -> string"):
        ensure_table(spark, moved, str(lake_dir))

    removed, _ = schema_changes(StructType([*full.fields, StructField("gone", StringType())]), full)
    tightened, _ = schema_changes(
        older, StructType([*older.fields, StructField("event_type", StringType(), False)])
    )
    assert removed == ["column 'gone' was removed"]
    assert tightened == ["new column 'event_type' must be nullable"]


def test_the_txn_app_id_is_read_from_the_checkpoint_when_the_thread_has_no_query_id(
    spark: SparkSession, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "metadata").write_text('{"id":"5f0c2a44-0000-4000-8000-000000000001"}\n')

    writer = MicroBatchWriter(str(tmp_path / "lake"), SALT, checkpoint_dir=str(checkpoint))

    assert writer.txn_app_id(spark) == "stream_events-5f0c2a44-0000-4000-8000-000000000001"
    with pytest.raises(RuntimeError, match="no streaming query id"):
        MicroBatchWriter(str(tmp_path / "lake"), SALT).txn_app_id(spark)
