"""Build ``silver.events`` rows in plain Python and write them as a silver Delta table, for batch-job tests.

Rows are dicts with every silver column (unset ones ``None``), so the same list feeds both the table
under test and the tests' plain-Python reference computations.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession

from edp.lake import SILVER_EVENTS, silver_columns
from edp.lake.spark_schemas import silver_schema
from edp.stream.tables import ensure_table

_ids = itertools.count(1)


def at(text: str) -> datetime:
    """``"2025-06-01 10:00:00"`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(
    event_type: str,
    occurred_at: str,
    *,
    session: str,
    anonymous_id: str,
    user_id: str | None = None,
    platform: str = "web",
    app_version: str = "1.0.0",
    locale: str = "en-US",
    ingested_at: str | None = None,
    **properties: Any,
) -> dict[str, Any]:
    """One silver row; ``properties`` use silver column names without the ``properties_`` prefix."""
    row: dict[str, Any] = {c.name: None for c in silver_columns()}
    moment = at(occurred_at)
    ingested = at(ingested_at) if ingested_at else moment
    number = next(_ids)
    row.update(
        event_id=f"00000000-0000-4000-8000-{number:012d}",
        event_type=event_type,
        schema_version="1.0",
        occurred_at=moment,
        user_id=user_id,
        anonymous_id=anonymous_id,
        session_id=session,
        device_platform=platform,
        device_os="os",
        device_os_version="1",
        device_locale=locale,
        app_name=f"shop-{platform}",
        app_version=app_version,
        meta_received_at=moment,
        meta_request_id="req",
        meta_source_app="test",
        meta_api_version="v1",
        meta_contract_version="1.0",
        ingested_at=ingested,
        kinesis_shard_id="shardId-000000000000",
        kinesis_sequence_number=str(number),
        event_date=moment.date(),
    )
    for key, value in properties.items():
        column = f"properties_{key}"
        if column not in row:
            raise KeyError(f"silver has no column {column}")
        row[column] = value
    return row


def item(product_id: str, quantity: int, price: float) -> dict[str, Any]:
    return {"product_id": product_id, "quantity": quantity, "price": price}


def append_silver(spark: SparkSession, lake_root: str, rows: list[dict[str, Any]], files: int = 1) -> None:
    """Append ``rows`` to the silver table under ``lake_root`` (created if absent) as about ``files`` files."""
    ensure_table(spark, SILVER_EVENTS, lake_root)
    schema = silver_schema()
    names = [f.name for f in schema.fields]
    df = spark.createDataFrame([tuple(r[n] for n in names) for r in rows], schema)
    df.repartition(files).write.format("delta").mode("append").save(SILVER_EVENTS.path(lake_root))
