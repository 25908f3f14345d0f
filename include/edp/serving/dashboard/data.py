"""The local dashboard's data: gold KPIs from the local warehouse, and pipeline health from the state dir.

KPIs come from the same reporting SQL the QuickSight datasets use on AWS (``include/sql/dashboard/*.sql``
over the views of ``redshift/bi_views.sql``), transpiled to DuckDB. Health comes from files the local
platform already writes:

| panel | source |
| --- | --- |
| streaming state, heartbeat, lag | ``<state dir>/streaming/metrics.json`` (``edp.lake.streaming_metrics_path``, format in docs/lake.md) |
| silver freshness | the newest commit of ``silver.events`` (``edp.lake.delta_log``) |
| quality gates | the latest record per layer (:mod:`edp.quality.records`) |
| warehouse loads | ``load_audit`` in the warehouse |
| alerts | ``<state dir>/slack/messages.jsonl`` (the local Slack receiver), newest first |
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from edp.config import PlatformConfig
from edp.lake import SILVER_EVENTS, streaming_metrics_path
from edp.serving.names import DASHBOARD_SQL, local_warehouse_path

DATA_FORMAT = "edp.dashboard/v1"
DEFAULT_DAYS = 30
ALERTS_SHOWN = 10
QUERIES = ("kpi_daily", "revenue_daily", "revenue_by_category", "app_health_daily", "recent_loads")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def warehouse_section(config: PlatformConfig, days: int) -> dict[str, Any]:
    """The reporting queries' rows, or an empty section saying why there are none."""
    from edp.serving.local_warehouse import LocalWarehouse  # noqa: PLC0415
    from edp.serving.templating import render_sql_file  # noqa: PLC0415

    path = local_warehouse_path(config)
    section: dict[str, Any] = {"warehouse": {"path": str(path), "available": path.exists(), "error": None}}
    for name in QUERIES:
        section[name] = []
    if not path.exists():
        return section
    warehouse = LocalWarehouse(path)
    params = {"schema": config.redshift.schema, "days": int(days)}
    try:
        for name in QUERIES:
            sql = render_sql_file(f"{DASHBOARD_SQL}/{name}.sql", config, params=params)
            section[name] = [{k: _plain(v) for k, v in row.items()} for row in warehouse.query(sql)]
    except Exception as exc:  # a warehouse without views yet still gets a dashboard that says so
        section["warehouse"]["error"] = f"{type(exc).__name__}: {exc}"[:300]
    return section


def _age_seconds(moment: str | None, now: datetime) -> float | None:
    if not moment:
        return None
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round(max((now - parsed).total_seconds(), 0.0), 1) if parsed.tzinfo else None


def streaming_section(config: PlatformConfig, now: datetime) -> dict[str, Any]:
    from edp.stream.metrics import read_health  # noqa: PLC0415

    health = read_health(streaming_metrics_path(config)) or {}
    lag = health.get("source_lag") or {}
    return {
        "available": bool(health),
        "state": health.get("state"),
        "written_at": health.get("written_at"),
        "heartbeat_age_s": _age_seconds(health.get("written_at"), now),
        "max_ms_behind_latest": lag.get("max_ms_behind_latest"),
        "input_rows_per_second": health.get("input_rows_per_second"),
        "batch_id": health.get("batch_id"),
    }


def freshness_section(config: PlatformConfig, now: datetime) -> dict[str, Any]:
    from edp.lake.delta_log import newest_commit  # noqa: PLC0415
    from edp.resources import resources  # noqa: PLC0415

    newest = newest_commit(SILVER_EVENTS.path(config.lake.root), resources(config).lake)
    return {
        "table": SILVER_EVENTS.name,
        "newest_commit_at": newest.isoformat() if newest else None,
        "age_s": round((now - newest).total_seconds(), 1) if newest else None,
    }


def quality_section(config: PlatformConfig) -> list[dict[str, Any]]:
    from edp.quality.records import latest_records  # noqa: PLC0415

    rows = []
    for layer, record in sorted(latest_records(config).items()):
        failed = [
            f"{s['suite']}: {f['expectation']}" for s in record.get("suites", []) for f in s.get("failed", [])
        ]
        rows.append(
            {
                "layer": layer,
                "success": record.get("success"),
                "interval_start": record.get("interval_start"),
                "interval_end": record.get("interval_end"),
                "finished_at": record.get("finished_at"),
                "failed": failed[:10],
                "data_docs_url": record.get("data_docs_url"),
            }
        )
    return rows


def _message_text(payload: Mapping[str, Any]) -> str:
    if payload.get("text"):
        return str(payload["text"])
    for block in payload.get("blocks") or []:
        text = block.get("text") if isinstance(block, Mapping) else None
        if isinstance(text, Mapping) and text.get("text"):
            return str(text["text"])
    return "(message without text)"


def alerts_section(config: PlatformConfig, limit: int = ALERTS_SHOWN) -> list[dict[str, Any]]:
    path = config.state_dir / "slack" / "messages.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    alerts = []
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        alerts.append(
            {"received_at": entry.get("received_at"), "text": _message_text(entry.get("payload") or {})[:500]}
        )
        if len(alerts) >= limit:
            break
    return alerts


def build_dashboard_data(
    config: PlatformConfig, *, days: int = DEFAULT_DAYS, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the dashboard page shows, as one JSON-safe document."""
    moment = now or datetime.now(tz=UTC)
    return {
        "format": DATA_FORMAT,
        "generated_at": moment.isoformat(timespec="seconds"),
        "environment": config.env.value,
        "days": days,
        **warehouse_section(config, days),
        "streaming": streaming_section(config, moment),
        "freshness": freshness_section(config, moment),
        "quality": quality_section(config),
        "alerts": alerts_section(config),
    }
