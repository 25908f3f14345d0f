"""Where the serving layer's local pieces live, for ``make status`` and ``make run`` (stdlib only).

:func:`serving_resources` answers without opening DuckDB or GX (``make status`` stays instant and never
contends for the warehouse file's lock): paths, whether they exist yet, the dashboard URL, and the
latest quality gate result per layer from the record files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edp.config import PlatformConfig
from edp.serving.names import (
    dashboard_dir,
    dashboard_url,
    export_root,
    lake_catalog_path,
    local_warehouse_path,
)

LAKE_QUERY_COMMAND = 'python -m edp.serving.lake_catalog "SELECT count(*) FROM {database}.silver_events"'


def _latest_gates(quality_dir: Path) -> dict[str, Any]:
    gates: dict[str, Any] = {}
    for path in sorted((quality_dir / "latest").glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        failed = [f["expectation"] for s in record.get("suites", []) for f in s.get("failed", [])]
        gates[path.stem] = {
            "passed": record.get("success"),
            "interval": f"{record.get('interval_start')} .. {record.get('interval_end')}",
            "checked_at": record.get("finished_at"),
            "failed_expectations": failed[:5],
        }
    return gates


def serving_resources(config: PlatformConfig) -> dict[str, Any]:
    """The ``resources`` facts of the serving layer (local environment)."""
    quality_dir = config.state_dir / "quality"
    docs = quality_dir / "data_docs" / "index.html"
    return {
        "dashboard": {
            "url": dashboard_url(config),
            "built": (dashboard_dir(config) / "index.html").is_file(),
            "stands_in_for": "QuickSight",
        },
        "warehouse": {
            "path": str(local_warehouse_path(config)),
            "exists": local_warehouse_path(config).is_file(),
            "engine": "DuckDB",
            "stands_in_for": "Redshift",
            "exports": export_root(config),
        },
        "lake_query": {
            "command": LAKE_QUERY_COMMAND.format(database=config.athena.database),
            "catalog": str(lake_catalog_path(config)),
            "catalog_exists": lake_catalog_path(config).is_file(),
            "engine": "DuckDB over delta-rs",
            "stands_in_for": "Athena",
        },
        "data_quality": {
            "data_docs": docs.resolve().as_uri() if docs.is_file() else None,
            "records": str(quality_dir / "runs"),
            "latest": _latest_gates(quality_dir),
        },
    }
