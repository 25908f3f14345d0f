"""A small lake for the serving-layer tests: silver and gold built by the real Spark jobs, bronze by delta-rs.

Silver rows follow the contract as the streaming job writes them (hashed ids, lower-case event ids), so a
clean lake passes every quality gate; tests corrupt a copy to prove the gates block. Also: running the
warehouse SQL files in DAG order against the local warehouse, and reading the warehouse back.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import deltalake
import pyarrow as pa
from pyspark.sql import SparkSession

from edp.batch.gold_build import build_gold_tables
from edp.config import PlatformConfig
from edp.lake import BRONZE_EVENTS
from edp.lake.intervals import Interval, parse_interval
from edp.serving.arrow_schemas import bronze_arrow_schema
from edp.serving.local_warehouse import LocalWarehouse
from edp.serving.names import FACT_TABLES, local_warehouse_path
from edp.serving.templating import PLAN_TASK_ID, redshift_params, render_sql_file
from tests.integration.silver_rows import append_silver, event, item

INTERVAL = parse_interval("2025-06-01T00:00:00+00:00", "2025-06-02T00:00:00+00:00")
LOAD_SQL = (
    "redshift/create_warehouse.sql",
    "redshift/bi_views.sql",
    "redshift/stage_gold.sql",
    "redshift/merge_gold.sql",
)


def hashed(value: str) -> str:
    return hashlib.sha256(f"test-salt{value}".encode()).hexdigest()


def person(anonymous: str, user: str | None, platform: str, locale: str) -> dict[str, Any]:
    return {
        "anonymous_id": hashed(anonymous),
        "user_id": hashed(user) if user else None,
        "platform": platform,
        "locale": locale,
    }


def silver_dataset() -> list[dict[str, Any]]:
    """One day of web/iOS/Android traffic plus a late event for the day before, ingested in the interval."""
    u1 = person("a1", "u1", "web", "en-US")
    a2 = person("a2", None, "ios", "de-DE")
    u3 = person("a3", "u3", "android", "pt_BR")
    rows = [
        event("page_view", "2025-06-01 09:00:00", session="s1", **u1, url="https://shop/p/P-1001"),
        event(
            "add_to_cart",
            "2025-06-01 09:01:00",
            session="s1",
            **u1,
            product_id="P-1001",
            quantity=2,
            price=19.99,
            currency="USD",
        ),
        event(
            "purchase",
            "2025-06-01 09:05:00",
            session="s1",
            **u1,
            order_id="o1",
            currency="USD",
            revenue=44.98,
            items=[item("P-1001", 2, 19.99), item("P-9999", 1, 5.0)],
        ),
        event(
            "app_error", "2025-06-01 09:06:00", session="s1", **u1, error_code="E1", message="m", fatal=False
        ),
        event(
            "screen_view", "2025-06-01 12:00:00", session="s2", **a2, app_version="4.13.0", screen_name="Home"
        ),
        event(
            "add_to_cart",
            "2025-06-01 12:00:30",
            session="s2",
            **a2,
            app_version="4.13.0",
            product_id="P-3001",
            quantity=1,
            price=79.0,
            currency="EUR",
        ),
        event(
            "purchase",
            "2025-06-01 12:02:00",
            session="s2",
            **a2,
            app_version="4.13.0",
            order_id="o2",
            currency="EUR",
            revenue=79.0,
            items=[item("P-3001", 1, 79.0)],
        ),
        event(
            "screen_view", "2025-06-01 15:00:00", session="s3", **u3, app_version="4.12.0", screen_name="Home"
        ),
        event(
            "app_error",
            "2025-06-01 15:00:05",
            session="s3",
            **u3,
            app_version="4.12.0",
            error_code="OOM",
            message="m",
            fatal=True,
        ),
        # late: happened the evening before, arrived (ingested) in the interval
        event(
            "page_view",
            "2025-05-31 23:50:00",
            session="s0",
            **u1,
            url="https://shop/",
            ingested_at="2025-06-01 00:10:00",
        ),
    ]
    for row in rows:  # the API received each event shortly after it happened
        row["meta_received_at"] = row["occurred_at"] + timedelta(seconds=2)
        if row["ingested_at"] < row["meta_received_at"]:
            row["ingested_at"] = row["meta_received_at"] + timedelta(seconds=3)
    return rows


def bronze_table(rows: list[dict[str, Any]], stream: str) -> pa.Table:
    records = []
    for number, row in enumerate(rows):
        ingested = row["ingested_at"]
        records.append(
            {
                "partition_key": row["anonymous_id"],
                "data": b'{"event": "..."}',
                "stream": stream,
                "shard_id": "shardId-000000000000",
                "sequence_number": f"{49_000 + number}",
                "approximate_arrival_timestamp": ingested - timedelta(seconds=1),
                "ingested_at": ingested,
                "ingest_date": ingested.astimezone(UTC).date(),
            }
        )
    return pa.Table.from_pylist(records, schema=bronze_arrow_schema())


def build_lake(
    spark: SparkSession, config: PlatformConfig, interval: Interval = INTERVAL
) -> list[dict[str, Any]]:
    """Silver (Spark), bronze (delta-rs) and gold (the gold build job) under ``config.lake.root``."""
    rows = silver_dataset()
    lake_root = config.lake.root
    append_silver(spark, lake_root, rows)
    deltalake.write_deltalake(
        BRONZE_EVENTS.path(lake_root), bronze_table(rows, config.stream.name), partition_by=["ingest_date"]
    )
    build_gold_tables(spark, lake_root, interval)
    return rows


def run_load_sql(config: PlatformConfig, plan: dict[str, Any]) -> list[int]:
    """The warehouse steps of ``warehouse_load`` in order (each file one transaction); statements per file."""
    warehouse = LocalWarehouse(local_warehouse_path(config))
    counts = []
    for path in LOAD_SQL:
        sql = render_sql_file(path, config, params=redshift_params(config), xcom={PLAN_TASK_ID: plan})
        counts.append(len(warehouse.run_script(sql)))
    return counts


def fact_snapshot(config: PlatformConfig) -> dict[str, list[tuple]]:
    """Every fact table's rows without the load id, sorted: what two loads must agree on."""
    snapshot = {}
    with LocalWarehouse(local_warehouse_path(config)).connect(read_only=True) as connection:
        for table in FACT_TABLES.values():
            columns = [
                r[0] for r in connection.execute(f"DESCRIBE {config.redshift.schema}.{table}").fetchall()
            ]
            kept = ", ".join(c for c in columns if c != "load_id")
            snapshot[table] = sorted(
                connection.execute(f"SELECT {kept} FROM {config.redshift.schema}.{table}").fetchall(),
                key=repr,
            )
    return snapshot


def scalar(config: PlatformConfig, sql: str) -> Any:
    with LocalWarehouse(local_warehouse_path(config)).connect(read_only=True) as connection:
        return connection.execute(sql).fetchone()[0]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def state_path(config: PlatformConfig, *parts: str) -> Path:
    return config.state_dir.joinpath(*parts)
