"""OPTIMIZE of the partitions an interval touched, and VACUUM's retention floor, on local Delta tables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from edp.batch.compaction import (
    MIN_VACUUM_RETENTION_HOURS,
    RetentionTooShortError,
    bronze_partitions,
    optimize_partitions,
    set_target_file_size,
    silver_partitions,
    vacuum_tables,
)
from edp.lake import BRONZE_EVENTS, SILVER_EVENTS
from edp.lake.intervals import parse_interval
from edp.stream.tables import ensure_table
from edp.stream.transforms import KINESIS_RECORD_SCHEMA, to_bronze
from tests.integration.silver_rows import append_silver, event

pytestmark = pytest.mark.integration

D1, D2, D3 = date(2025, 6, 1), date(2025, 6, 2), date(2025, 6, 3)
INTERVAL = parse_interval("2025-06-02T03:00:00Z", "2025-06-03T03:00:00Z")
MICRO_BATCHES = 8


def files_per_partition(spark: SparkSession, path: str, column: str) -> dict[date, int]:
    files = spark.read.format("delta").load(path).select(column, F.col("_metadata.file_path")).distinct()
    return {row[0]: row[1] for row in files.groupBy(column).count().collect()}


def row_checksums(df: DataFrame) -> list[str]:
    """SHA-256 of every row (all columns, as JSON), sorted: equal lists mean equal multisets of rows."""
    hashed = df.select(F.sha2(F.to_json(F.struct(*df.columns)), 256).alias("h"))
    return sorted(row["h"] for row in hashed.collect())


def data_files(table_path: str) -> list[Path]:
    return sorted(p for p in Path(table_path).rglob("*.parquet") if "_delta_log" not in p.parts)


def load(spark: SparkSession, path: str) -> DataFrame:
    return spark.read.format("delta").load(path)


@pytest.fixture
def small_file_lake(spark: SparkSession, tmp_path: Path) -> str:
    """Silver and bronze written like the stream writes them: many micro-batches of a few rows each."""
    lake = str(tmp_path / "lake")
    for batch in range(MICRO_BATCHES):
        rows = [
            # day 2, arriving on day 2 (touched and closed by the interval's end)
            event(
                "page_view",
                f"2025-06-02 1{batch}:00:0{n}",
                session=f"s{batch}",
                anonymous_id=f"a{n}",
                ingested_at=f"2025-06-02 1{batch}:00:30",
            )
            for n in range(3)
        ]
        # day 1, late rows arriving on day 2; day 3 rows arriving on day 3 (still open: left alone)
        rows.append(
            event(
                "click",
                "2025-06-01 09:00:00",
                session="late",
                anonymous_id="a9",
                ingested_at=f"2025-06-02 2{batch % 4}:00:00",
                element_id="buy",
            )
        )
        rows.append(
            event(
                "click",
                "2025-06-03 01:00:00",
                session="s-d3",
                anonymous_id="a8",
                ingested_at="2025-06-03 01:00:10",
                element_id="buy",
            )
        )
        append_silver(spark, lake, rows, files=2)
    ensure_table(spark, BRONZE_EVENTS, lake)
    for batch in range(MICRO_BATCHES):
        raw = spark.createDataFrame(
            [
                (
                    f"pk{n}",
                    f'{{"n":{n}}}'.encode(),
                    "edp-events",
                    f"shardId-{n % 2}",
                    f"{batch}{n:03d}",
                    datetime(2025, 6, 2, 12, tzinfo=UTC),
                )
                for n in range(4)
            ],
            KINESIS_RECORD_SCHEMA,
        )
        bronze = to_bronze(raw, ingested_at=datetime(2025, 6, 2, 12, batch, tzinfo=UTC)).repartition(2)
        bronze.write.format("delta").mode("append").save(BRONZE_EVENTS.path(lake))
    return lake


def test_optimize_compacts_the_touched_closed_partitions_and_keeps_every_row(
    spark: SparkSession, small_file_lake: str
) -> None:
    silver_path, bronze_path = SILVER_EVENTS.path(small_file_lake), BRONZE_EVENTS.path(small_file_lake)
    silver_before, bronze_before = (
        row_checksums(load(spark, silver_path)),
        row_checksums(load(spark, bronze_path)),
    )
    silver_files = files_per_partition(spark, silver_path, "event_date")
    assert silver_files[D2] >= MICRO_BATCHES and silver_files[D1] > 1 and silver_files[D3] > 1

    set_target_file_size(spark, 128)
    touched = silver_partitions(load(spark, silver_path), INTERVAL)
    assert touched == [D1, D2]  # day 3 received rows in the interval too, but is still open
    assert bronze_partitions(INTERVAL) == [D2]
    silver_done = optimize_partitions(
        spark, SILVER_EVENTS, small_file_lake, touched, ("event_type", "session_id")
    )
    bronze_done = optimize_partitions(
        spark, BRONZE_EVENTS, small_file_lake, [D2], ("shard_id", "sequence_number")
    )

    after = files_per_partition(spark, silver_path, "event_date")
    assert after[D1] == 1 and after[D2] == 1
    assert after[D3] == silver_files[D3]
    assert files_per_partition(spark, bronze_path, "ingest_date")[D2] == 1
    assert [(r.partition, r.files_added) for r in silver_done] == [
        ("event_date = DATE'2025-06-01'", 1),
        ("event_date = DATE'2025-06-02'", 1),
    ]
    assert bronze_done[0].files_removed > 1
    assert row_checksums(load(spark, silver_path)) == silver_before
    assert row_checksums(load(spark, bronze_path)) == bronze_before
    assert len(silver_before) == MICRO_BATCHES * 5


def test_vacuum_refuses_a_retention_below_seven_days_before_touching_any_table(
    spark: SparkSession, small_file_lake: str
) -> None:
    with pytest.raises(RetentionTooShortError, match="168"):
        vacuum_tables(spark, [SILVER_EVENTS], small_file_lake, retention_hours=24)
    with pytest.raises(RetentionTooShortError):
        vacuum_tables(
            spark, [SILVER_EVENTS], small_file_lake, retention_hours=MIN_VACUUM_RETENTION_HOURS - 0.5
        )


def test_vacuum_at_the_floor_keeps_files_replaced_within_the_last_seven_days(
    spark: SparkSession, small_file_lake: str
) -> None:
    silver_path = SILVER_EVENTS.path(small_file_lake)
    optimize_partitions(spark, SILVER_EVENTS, small_file_lake, [D2])
    on_disk = data_files(silver_path)
    before = row_checksums(load(spark, silver_path))
    assert len(on_disk) > len(load(spark, silver_path).inputFiles())  # replaced files are still there

    done = vacuum_tables(spark, [SILVER_EVENTS, BRONZE_EVENTS], small_file_lake, MIN_VACUUM_RETENTION_HOURS)

    assert set(done) == {SILVER_EVENTS.name, BRONZE_EVENTS.name}
    assert data_files(silver_path) == on_disk  # the files OPTIMIZE replaced are younger than 7 days
    assert row_checksums(load(spark, silver_path)) == before
