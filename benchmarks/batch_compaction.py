"""The small-file problem and what compaction buys: a silver-like table before and after OPTIMIZE.

Run: ``.venv/bin/python -m benchmarks.batch_compaction [--events 1000000] [--days 7] [--commits 40]``.

1. Generates ``--events`` silver rows (sessions of ~20 events over ``--days`` days, all contract event
   types, purchases with line items) with Spark and appends them to a ``silver.events`` Delta table the
   way the stream does: ``--commits`` micro-batch commits in time order, each written as
   ``--files-per-commit`` files per partition it touches.
2. Baseline (same run): files per partition, and the time of representative gold queries
   (``funnel_daily`` and ``daily_active_users`` over every day, collected) on the small files.
3. Compacts every partition with the batch job's OPTIMIZE (``--target-file-mb``, Z-order by
   ``event_type, session_id``) and measures the same again.
4. Runs the full gold build (all six tables, every day) on the compacted table: silver rows/s.

Query times are the median of ``--repeats`` runs after one warm-up run. Prints markdown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

INCLUDE = str(Path(__file__).resolve().parents[1] / "include")
if INCLUDE not in sys.path:  # runnable as `python -m benchmarks.batch_compaction` without PYTHONPATH
    sys.path.insert(0, INCLUDE)

from pyspark.sql import Column, DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from edp.batch import gold  # noqa: E402
from edp.batch.compaction import DEFAULT_ZORDER, optimize_partitions, set_target_file_size  # noqa: E402
from edp.batch.gold_build import build_gold_tables  # noqa: E402
from edp.lake import SILVER_EVENTS, silver_columns  # noqa: E402
from edp.lake.intervals import date_range, day_interval  # noqa: E402
from edp.lake.spark_schemas import spark_type  # noqa: E402
from edp.spark_runtime.session import get_spark  # noqa: E402
from edp.stream.tables import ensure_table  # noqa: E402

FIRST_DAY = date(2025, 6, 1)
EVENTS_PER_SESSION = 20
PLATFORMS = ("web", "ios", "android")
LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "pt-BR", "ja-JP", "en-IN", "es-ES")
QUERIES = ("funnel_daily (all days)", "daily_active_users (all days)", "purchases of one day (filter)")
PRODUCTS = ("P-1001", "P-1002", "P-2001", "P-3001", "P-3002", "P-4001", "P-4005", "P-9999")


def _pick(values: tuple[str, ...], seed: Column) -> Column:
    return F.element_at(F.array(*[F.lit(v) for v in values]), (F.abs(seed) % len(values) + 1).cast("int"))


def _event_type(position: Column, session_hash: Column, event_hash: Column) -> Column:
    roll = F.abs(event_hash) % 100
    return (
        F.when(position == 0, F.lit("view"))
        .when((position == EVENTS_PER_SESSION - 1) & (F.abs(session_hash) % 4 == 0), F.lit("purchase"))
        .when(roll < 55, F.lit("view"))
        .when(roll < 82, F.lit("click"))
        .when(roll < 94, F.lit("add_to_cart"))
        .when(roll < 96, F.lit("app_error"))
        .when(roll < 97, F.lit("signup"))
        .otherwise(F.lit("view"))
    )


def silver_like(spark: SparkSession, events: int, days: int) -> DataFrame:
    """``events`` silver rows: sessions of 20 events spread evenly over ``days`` days."""
    sessions = max(events // EVENTS_PER_SESSION, 1)
    span_s = days * 86_400 - EVENTS_PER_SESSION * 30
    ids = spark.range(events)
    session = F.floor(F.col("id") / EVENTS_PER_SESSION)
    position = F.col("id") % EVENTS_PER_SESSION
    s_hash, e_hash = F.xxhash64(session), F.xxhash64(F.col("id"))
    platform = _pick(PLATFORMS, s_hash)
    kind = _event_type(position, s_hash, e_hash)
    event_type = F.when(
        kind == "view", F.when(platform == "web", "page_view").otherwise("screen_view")
    ).otherwise(kind)
    start = F.lit(f"{FIRST_DAY.isoformat()} 00:00:00").cast("timestamp")
    occurred = start + F.make_dt_interval(
        F.lit(0), F.lit(0), F.lit(0), (session * span_s / sessions + position * 30).cast("decimal(18,6)")
    )
    user = F.abs(s_hash) % (sessions // 3 + 1)
    product = _pick(PRODUCTS, e_hash)
    price = (F.abs(e_hash) % 20000 / 100 + 1).cast("double")
    values: dict[str, Column] = {
        "event_id": F.concat(F.lit("00000000-0000-4000-8000-"), F.lpad(F.col("id").cast("string"), 12, "0")),
        "event_type": event_type,
        "schema_version": F.lit("1.0"),
        "occurred_at": occurred,
        "user_id": F.when(F.abs(s_hash) % 10 < 4, F.sha2(F.concat(F.lit("u"), user.cast("string")), 256)),
        "anonymous_id": F.sha2(F.concat(F.lit("a"), user.cast("string")), 256),
        "session_id": F.concat(F.lit("s-"), session.cast("string")),
        "device_platform": platform,
        "device_os": F.lit("os"),
        "device_os_version": F.lit("1"),
        "device_locale": _pick(LOCALES, F.shiftright(s_hash, 3)),
        "app_name": F.concat(F.lit("shop-"), platform),
        "app_version": _pick(("4.12.0", "4.13.0", "4.13.2"), F.shiftright(s_hash, 5)),
        "properties_product_id": F.when(event_type == "add_to_cart", product),
        "properties_quantity": F.when(event_type == "add_to_cart", F.lit(1)),
        "properties_price": F.when(event_type == "add_to_cart", price),
        "properties_currency": F.when(event_type.isin("add_to_cart", "purchase"), F.lit("USD")),
        "properties_order_id": F.when(
            event_type == "purchase", F.concat(F.lit("o-"), session.cast("string"))
        ),
        "properties_revenue": F.when(event_type == "purchase", price * 2),
        "properties_items": F.when(
            event_type == "purchase",
            F.array(
                F.struct(
                    product.alias("product_id"),
                    F.lit(2).cast("bigint").alias("quantity"),
                    price.alias("price"),
                )
            ),
        ),
        "properties_error_code": F.when(event_type == "app_error", F.lit("E42")),
        "properties_message": F.when(event_type == "app_error", F.lit("boom")),
        "properties_fatal": F.when(event_type == "app_error", F.abs(e_hash) % 3 == 0),
        "properties_method": F.when(event_type == "signup", F.lit("email")),
        "meta_received_at": occurred,
        "meta_request_id": F.lit("req"),
        "meta_source_app": F.lit("bench"),
        "meta_api_version": F.lit("v1"),
        "meta_contract_version": F.lit("1.0"),
        "ingested_at": occurred + F.expr("INTERVAL 2 SECONDS"),
        "kinesis_shard_id": F.concat(F.lit("shardId-"), (F.abs(s_hash) % 4).cast("string")),
        "kinesis_sequence_number": F.col("id").cast("string"),
        "event_date": F.to_date(occurred),
    }
    return ids.select(
        "id", *[values.get(c.name, F.lit(None)).cast(spark_type(c)).alias(c.name) for c in silver_columns()]
    )


def write_micro_batches(df: DataFrame, path: str, events: int, commits: int, files_per_commit: int) -> float:
    started = time.perf_counter()
    per_commit = -(-events // commits)
    for commit in range(commits):
        batch = df.where((F.col("id") >= commit * per_commit) & (F.col("id") < (commit + 1) * per_commit))
        batch = batch.drop("id").repartition(files_per_commit, "event_date", "kinesis_sequence_number")
        batch.write.format("delta").mode("append").save(path)
    return time.perf_counter() - started


def files_per_partition(spark: SparkSession, path: str) -> list[int]:
    files = (
        spark.read.format("delta").load(path).select("event_date", F.col("_metadata.file_path")).distinct()
    )
    return sorted(row["count"] for row in files.groupBy("event_date").count().collect())


def timed(action: Callable[[], Any], repeats: int) -> float:
    action()  # warm-up: JIT, Delta log cache
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def gold_queries(spark: SparkSession, path: str, days: list[date]) -> dict[str, Callable[[], Any]]:
    def silver() -> DataFrame:
        return spark.read.format("delta").load(path)

    funnel, active, purchases = QUERIES
    return {
        funnel: lambda: gold.funnel_daily(silver(), days).collect(),
        active: lambda: gold.daily_active_users(silver(), days).collect(),
        purchases: lambda: (
            silver()
            .where((F.col("event_date") == days[len(days) // 2]) & (F.col("event_type") == "purchase"))
            .count()
        ),
    }


def measure(spark: SparkSession, path: str, days: list[date], repeats: int) -> dict[str, Any]:
    counts = files_per_partition(spark, path)
    queries = {name: timed(query, repeats) for name, query in gold_queries(spark, path, days).items()}
    assert list(queries) == list(QUERIES)
    return {
        "files": sum(counts),
        "min": counts[0],
        "median": statistics.median(counts),
        "max": counts[-1],
        **queries,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.batch_compaction", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--commits", type=int, default=40, help="micro-batch commits")
    parser.add_argument("--files-per-commit", type=int, default=24, help="files each commit writes")
    parser.add_argument("--target-file-mb", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    spark = get_spark("benchmark-batch-compaction", extra_conf={"spark.sql.shuffle.partitions": "8"})
    days = date_range(FIRST_DAY, FIRST_DAY + timedelta(days=args.days - 1))
    with tempfile.TemporaryDirectory(prefix="bench-compaction-") as lake:
        path = ensure_table(spark, SILVER_EVENTS, lake)
        write_s = write_micro_batches(
            silver_like(spark, args.events, args.days), path, args.events, args.commits, args.files_per_commit
        )
        rows = spark.read.format("delta").load(path).count()
        before = measure(spark, path, days, args.repeats)

        set_target_file_size(spark, args.target_file_mb)
        started = time.perf_counter()
        optimize_partitions(spark, SILVER_EVENTS, lake, days, DEFAULT_ZORDER[SILVER_EVENTS.name])
        compact_s = time.perf_counter() - started
        after = measure(spark, path, days, args.repeats)

        started = time.perf_counter()
        summary = build_gold_tables(spark, lake, day_interval(days[0], days[-1]))
        gold_s = time.perf_counter() - started
    spark.stop()

    print(f"### Batch compaction: {rows:,} silver events, {args.days} daily partitions\n")
    print(
        f"Written as {args.commits} micro-batch commits of {args.files_per_commit} files ({write_s:.1f} s); "
        f"compacted with OPTIMIZE ZORDER BY (event_type, session_id), target {args.target_file_mb} MB, "
        f"in {compact_s:.1f} s. Query times: median of {args.repeats} after a warm-up.\n"
    )
    print("| measure | before compaction (baseline) | after compaction | change |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| data files (total) | {before['files']} | {after['files']} | {after['files'] / before['files']:.2f}x |"
    )
    print(
        f"| files per partition (min / median / max) | {before['min']} / {before['median']:g} / {before['max']} "
        f"| {after['min']} / {after['median']:g} / {after['max']} | |"
    )
    for name in QUERIES:
        print(
            f"| {name}, s | {before[name]:.2f} | {after[name]:.2f} | {before[name] / after[name]:.2f}x faster |"
        )
    print()
    print("| gold build (6 tables, all days, compacted silver) | value |")
    print("| --- | ---: |")
    print(f"| silver rows read | {summary['silver_rows_read']:,} |")
    print(f"| wall time, s | {gold_s:.1f} |")
    print(f"| throughput, silver rows/s | {summary['silver_rows_read'] / gold_s:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
