"""Figures read straight from the local lake (delta-rs + DuckDB, no Spark): rows, ids, quarantine contents."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.dataset as ds

from edp.config import PlatformConfig
from edp.lake import BRONZE_EVENTS, INGEST_REJECTS, QUARANTINE_EVENTS, SILVER_EVENTS, TableSpec
from edp.lake.reader import open_table

TOP_REASONS = 8


def dataset(spec: TableSpec, config: PlatformConfig) -> ds.Dataset | None:
    """The Delta table's current snapshot as an Arrow dataset, ``None`` while it does not exist."""
    table = open_table(spec.path(config.lake.root))
    return None if table is None else table.to_pyarrow_dataset()


def row_count(spec: TableSpec, config: PlatformConfig) -> int:
    data = dataset(spec, config)
    return 0 if data is None else data.count_rows()


@contextmanager
def lake_sql(config: PlatformConfig, *specs: TableSpec) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with each table as a view named after its short name (``events``...)."""
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        for spec in specs:
            data = dataset(spec, config)
            if data is not None:
                connection.register(spec.name.replace(".", "_"), data)
        yield connection
    finally:
        connection.close()


def silver_event_ids(config: PlatformConfig) -> set[str]:
    data = dataset(SILVER_EVENTS, config)
    if data is None:
        return set()
    return {str(v).lower() for v in data.to_table(columns=["event_id"]).column("event_id").to_pylist()}


def bronze_event_ids(config: PlatformConfig) -> tuple[int, set[str]]:
    """Bronze's row count and the distinct event ids inside its raw envelopes."""
    if dataset(BRONZE_EVENTS, config) is None:
        return 0, set()
    with lake_sql(config, BRONZE_EVENTS) as sql:
        (rows,) = sql.execute("SELECT count(*) FROM bronze_events").fetchone() or (0,)
        found = sql.execute(
            "SELECT DISTINCT lower(json_extract_string(decode(data), '$.event.event_id')) FROM bronze_events"
        ).fetchall()
    return int(rows), {r[0] for r in found if r[0]}


def silver_window(config: PlatformConfig) -> tuple[date, date] | None:
    """First and last ``event_date`` in silver (late events included)."""
    if dataset(SILVER_EVENTS, config) is None:
        return None
    with lake_sql(config, SILVER_EVENTS) as sql:
        first, last = sql.execute("SELECT min(event_date), max(event_date) FROM silver_events").fetchone()
    return (first, last) if first is not None else None


def _reason_field(reason: str) -> str:
    """``"occurred_at: not a date-time; ..."`` -> ``occurred_at``: what a rejection was about."""
    head = reason.split(";", 1)[0]
    return head.split(":", 1)[0].strip() if ":" in head else head.strip()[:40]


def ingest_quarantine(config: PlatformConfig) -> dict[str, Any]:
    """The ingest API's quarantine (JSON Lines): events, how many carry a reason, by stage and reason."""
    root = INGEST_REJECTS.path(config.lake.root)
    lines, with_reason = 0, 0
    stages: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for path in sorted(Path(root).rglob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            if not raw.strip():
                continue
            entry = json.loads(raw)
            lines += 1
            stages[str(entry.get("stage"))] += 1
            if entry.get("reason"):
                with_reason += 1
                reasons[_reason_field(str(entry["reason"]))] += 1
    return {
        "events": lines,
        "with_reason": with_reason,
        "by_stage": dict(sorted(stages.items())),
        "by_reason": dict(reasons.most_common(TOP_REASONS)),
        "location": root,
    }


def stream_quarantine(config: PlatformConfig) -> dict[str, Any]:
    """Records the streaming job rejected (``quarantine.events``), by reason code."""
    if dataset(QUARANTINE_EVENTS, config) is None:
        return {"records": 0, "by_reason_code": {}}
    with lake_sql(config, QUARANTINE_EVENTS) as sql:
        rows = sql.execute(
            "SELECT reason_code, count(*) FROM quarantine_events GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    return {"records": sum(int(n) for _, n in rows), "by_reason_code": {str(k): int(n) for k, n in rows}}
