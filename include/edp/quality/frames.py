"""Validation frames: the rows each suite checks for one load plan, read with delta-rs into pandas.

No Spark: an interval's slice of a table is small, and delta-rs reads the tables Spark writes at the
exact versions the plan pinned. Frames hold the table's columns, with these documented changes:

* bronze: rows with ``ingested_at`` in the interval (``ingest_date`` partitions pruned); ``data`` (raw
  payload bytes) is replaced by ``data_bytes``, its length (null when ``data`` is null), so a gate never
  loads megabytes of payloads to check they are there;
* silver: rows with ``ingested_at`` in the interval (``event_date`` pruned to the dates such rows can
  have), plus ``occurred_on`` (UTC date of ``occurred_at``) and ``occurred_lag_seconds``
  (``meta_received_at - occurred_at``), which the contract's time rules are stated on;
* gold: the plan's partitions of the table, in ``edp.lake.gold`` shape (what the export publishes).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from edp.config import PlatformConfig
from edp.contract import MAX_CLOCK_SKEW, MAX_EVENT_AGE
from edp.lake.intervals import ingest_event_date_bounds, interval_dates
from edp.lake.reader import dates_filter, open_table, read
from edp.quality.suites import BRONZE_PAYLOAD_BYTES, OCCURRED_LAG_SECONDS, OCCURRED_ON, RECONCILIATION, Layer
from edp.serving.arrow_schemas import bronze_arrow_schema, silver_arrow_schema
from edp.serving.export import gold_rows
from edp.serving.plan import LoadPlan

if TYPE_CHECKING:
    import pandas as pd

# Kinesis keeps records 24 hours by default: a consumer may read a record up to that long after arrival.
STREAM_RETENTION = timedelta(hours=24)
_UTC_MICROS = pa.timestamp("us", tz="UTC")


def _in_interval(column: str, plan: LoadPlan) -> Any:
    return (pc.field(column) >= pa.scalar(plan.interval.start, _UTC_MICROS)) & (
        pc.field(column) < pa.scalar(plan.interval.end, _UTC_MICROS)
    )


def bronze_rows(plan: LoadPlan, options: Mapping[str, str] | None = None) -> pa.Table:
    table = (
        open_table(plan.bronze.path, plan.bronze.version, options)
        if plan.bronze.version is not None
        else None
    )
    keep = dates_filter("ingest_date", interval_dates(plan.interval)) & _in_interval("ingested_at", plan)
    rows = read(table, bronze_arrow_schema(), filter=keep)
    position = rows.schema.get_field_index("data")
    return rows.set_column(position, BRONZE_PAYLOAD_BYTES, pc.binary_length(rows.column("data")))


def silver_rows(plan: LoadPlan, options: Mapping[str, str] | None = None) -> pa.Table:
    table = (
        open_table(plan.silver.path, plan.silver.version, options)
        if plan.silver.version is not None
        else None
    )
    first, last = ingest_event_date_bounds(plan.interval)
    keep = (
        (pc.field("event_date") >= pa.scalar(first, pa.date32()))
        & (pc.field("event_date") <= pa.scalar(last, pa.date32()))
        & _in_interval("ingested_at", plan)
    )
    rows = read(table, silver_arrow_schema(), filter=keep)
    occurred = rows.column("occurred_at")
    lag = pc.divide(
        pc.cast(pc.subtract(rows.column("meta_received_at"), occurred), pa.int64()), pa.scalar(1_000_000.0)
    )
    rows = rows.append_column(OCCURRED_ON, pc.cast(occurred, pa.date32()))
    return rows.append_column(OCCURRED_LAG_SECONDS, lag)


def frame(suite: str, plan: LoadPlan, options: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The pandas frame the named suite validates (``bronze.events``, ``gold.sessions``, ...)."""
    if suite == "bronze.events":
        return bronze_rows(plan, options).to_pandas()
    if suite == "silver.events":
        return silver_rows(plan, options).to_pandas()
    if suite == RECONCILIATION:
        from edp.quality.reconcile import reconciliation_frame  # noqa: PLC0415

        return reconciliation_frame(plan, options)
    if suite in plan.gold:
        return gold_rows(plan, suite, options).to_pandas()
    raise KeyError(f"no frame for suite {suite!r}")


def suite_parameters(
    layer: Layer, plan: LoadPlan, config: PlatformConfig, *, min_bronze_rows: int = 1
) -> dict[str, Any]:
    """Run-time values of the suites' ``$PARAMETER``s for this plan."""
    import pandas as pd  # noqa: PLC0415

    start, end = pd.Timestamp(plan.interval.start), pd.Timestamp(plan.interval.end)
    if layer == Layer.BRONZE:
        return {
            "min_rows": min_bronze_rows,
            "interval_start": start,
            "interval_end": end,
            "arrival_floor": start - STREAM_RETENTION,
            "stream_names": [config.stream.name],
        }
    if layer == Layer.SILVER:
        return {
            "occurred_floor": start - STREAM_RETENTION - MAX_EVENT_AGE,
            "occurred_ceiling": end + MAX_CLOCK_SKEW,
        }
    return {}
