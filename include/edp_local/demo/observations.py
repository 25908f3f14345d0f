"""What the platform recorded about itself during the demo: quality gate records and Slack alerts."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from edp.config import PlatformConfig
from edp.quality.context import quality_state_dir
from edp.quality.records import RECORD_FORMAT
from edp_local.alerting.locations import messages_path

_KIND = re.compile(r"kind `([^`]+)`")


def quality_records(config: PlatformConfig) -> list[dict[str, Any]]:
    """Every quality gate run recorded locally (``<state dir>/quality/runs/<layer>/*.json``), oldest first."""
    records = []
    for path in sorted((quality_state_dir(config) / "runs").glob("*/*.json")):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if document.get("format") == RECORD_FORMAT:
            records.append(document)
    return sorted(records, key=lambda r: str(r.get("finished_at")))


def quality_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per suite: runs, passed, failed, expectations evaluated and failed, rows checked."""
    suites: dict[str, dict[str, Any]] = {}
    for record in records:
        for suite in record.get("suites", []):
            entry = suites.setdefault(
                suite["suite"],
                {
                    "layer": record.get("layer"),
                    "runs": 0,
                    "passed": 0,
                    "failed": 0,
                    "expectations": 0,
                    "failed_expectations": 0,
                    "rows": 0,
                },
            )
            entry["runs"] += 1
            entry["passed" if suite.get("success") else "failed"] += 1
            entry["expectations"] += int(suite.get("evaluated") or 0)
            entry["failed_expectations"] += len(suite.get("failed") or [])
            entry["rows"] += int(suite.get("rows") or 0)
    return {
        "gate_runs": len(records),
        "gate_runs_passed": sum(1 for r in records if r.get("success")),
        "suites": dict(sorted(suites.items())),
    }


def _messages(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        if line.strip():
            yield json.loads(line)


def alert_kind(payload: dict[str, Any]) -> str:
    """The alert kind the SNS -> Slack function prints in a context block (``kind `task_failure```)."""
    for block in payload.get("blocks") or []:
        for element in block.get("elements") or []:
            found = _KIND.search(str(element.get("text", "")) if isinstance(element, dict) else "")
            if found:
                return found.group(1)
    return "other"


def slack_alerts(config: PlatformConfig, since: datetime) -> dict[str, Any]:
    """Messages the local Slack receiver recorded since ``since``, by alert kind."""
    kinds: Counter[str] = Counter()
    titles: list[str] = []
    for entry in _messages(messages_path(config)):
        if datetime.fromisoformat(entry["received_at"]) < since:
            continue
        payload = entry.get("payload") or {}
        kinds[alert_kind(payload)] += 1
        titles.append(str(payload.get("text", ""))[:160])
    return {"messages": sum(kinds.values()), "by_kind": dict(sorted(kinds.items())), "texts": titles[:10]}
