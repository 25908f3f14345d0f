"""The demo summary: printed as readable tables, written as one JSON document (``edp.demo_summary/v1``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from tabulate import tabulate

SUMMARY_FORMAT = "edp.demo_summary/v1"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(summary: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    tmp.replace(path)


def _table(rows: list[list[Any]], headers: list[str]) -> str:
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True) if rows else "  (none)"


def _traffic(t: Mapping[str, Any]) -> str:
    invalid = ", ".join(f"{k} {v}" for k, v in t.get("invalid", {}).items()) or "none"
    rows = [
        ["events generated", t["generated"]],
        ["events sent (duplicates included)", t["sent"]],
        ["accepted by the API", t["accepted"]],
        ["rejected (quarantined)", t["rejected"]],
        ["duplicates the API folded within a request", t.get("duplicates_reported_by_api", 0)],
        ["duplicates sent", t["duplicates"]],
        ["late events sent (1-48 h old)", t["late"]],
        ["out-of-order events sent", t["out_of_order"]],
        ["invalid events generated", invalid],
        ["valid unique events expected", t["expected_valid_unique"]],
        ["send rate (events/s)", t["achieved_events_per_s"]],
        ["latency p50 / p99 (ms)", f"{t['latency_ms']['p50']} / {t['latency_ms']['p99']}"],
    ]
    return _table(rows, ["traffic", "value"])


def _lake(lake: Mapping[str, Any]) -> str:
    ingest, stream = lake["ingest_quarantine"], lake["stream_quarantine"]
    reasons = ", ".join(f"{k} {v}" for k, v in ingest["by_reason"].items()) or "-"
    resent = lake["bronze_rows"] - lake["bronze_distinct_event_ids"]
    rows = [
        [
            "bronze.events rows",
            lake["bronze_rows"],
            f"raw Kinesis records, at-least-once: {resent} more than distinct ids (client re-sends)",
        ],
        ["bronze distinct event ids", lake["bronze_distinct_event_ids"], ""],
        ["silver.events rows", lake["silver_rows"], "one row per event_id"],
        ["quarantine/ingest events", ingest["events"], f"rejected by the API, by field: {reasons}"],
        ["quarantine.events records", stream["records"], "rejected by the streaming job"],
    ]
    return _table(rows, ["lake", "count", "note"])


def _serving(gold: Mapping[str, Any], warehouse: Mapping[str, Any]) -> str:
    rows = []
    for name, figures in gold.items():
        loaded = warehouse.get(name) or {}
        rows.append(
            [
                name,
                figures["rows"],
                f"sum({figures['measure']}) = {figures['total']}",
                loaded.get("rows", "-"),
                loaded.get("total", "-"),
            ]
        )
    return _table(rows, ["gold table", "rows", "measure", "warehouse rows", "warehouse sum"])


def _quality(quality: Mapping[str, Any]) -> str:
    rows = [
        [
            suite,
            s["layer"],
            s["runs"],
            s["passed"],
            s["failed"],
            s["expectations"],
            s["failed_expectations"],
            s["rows"],
        ]
        for suite, s in quality["suites"].items()
    ]
    head = f"{quality['gate_runs']} gate runs, {quality['gate_runs_passed']} passed\n"
    return head + _table(
        rows, ["GX suite", "layer", "runs", "passed", "failed", "expectations", "failed exp.", "rows"]
    )


def _runs(runs: list[Mapping[str, Any]]) -> str:
    rows = [
        [
            r["name"],
            r["state"],
            r["seconds"],
            ", ".join(f"{k} {v}" for k, v in sorted(r["tasks"].items())),
            r["run_id"],
        ]
        for r in runs
    ]
    return _table(rows, ["DAG run", "state", "seconds", "task states", "run id"])


def _stages(stages: list[Mapping[str, Any]], total: float) -> str:
    rows = [[s["stage"], s["seconds"], f"{100 * s['share']:.1f}%"] for s in stages]
    rows.append(["total", round(total, 1), "100%"])
    return _table(rows, ["stage", "seconds", "share"])


def _memory(memory: Mapping[str, Any]) -> str:
    parts = ", ".join(
        f"{k} {v}" for k, v in sorted(memory["peak_by_component_mib"].items(), key=lambda kv: -kv[1])
    )
    return (
        f"peak {memory['peak_mib']} MiB PSS (sum over {memory['peak_processes']} processes; RSS sum, an upper "
        f"bound: {memory.get('peak_rss_sum_mib')} MiB; idle platform: {memory.get('idle_mib')} MiB) during "
        f"'{memory['peak_stage']}'; {memory['samples']} samples every {memory['interval_s']}s\n  by component (MiB): {parts}"
    )


def _checks(checks: list[Mapping[str, Any]]) -> str:
    rows = [
        ["PASS" if c["passed"] else "FAIL", c["name"], c["expected"], c["actual"], c["detail"][:90]]
        for c in checks
    ]
    return _table(rows, ["", "check", "expected", "actual", "detail"])


def render(summary: Mapping[str, Any]) -> str:
    """The human-readable summary: one titled table per section that has data."""
    sections: list[tuple[str, str]] = []
    if summary.get("traffic"):
        sections.append(("Traffic (load generator -> gateway)", _traffic(summary["traffic"])))
    if summary.get("lake"):
        sections.append(("Lake", _lake(summary["lake"])))
    if summary.get("gold"):
        sections.append(("Gold and warehouse", _serving(summary["gold"], summary.get("warehouse") or {})))
    if summary.get("quality"):
        sections.append(("Quality gates (Great Expectations)", _quality(summary["quality"])))
    if summary.get("alerts") is not None:
        alerts = summary["alerts"]
        kinds = ", ".join(f"{k} {v}" for k, v in alerts["by_kind"].items()) or "none"
        sections.append(("Alerts (local Slack receiver)", f"{alerts['messages']} messages; by kind: {kinds}"))
    sections.append(("DAG runs", _runs(summary.get("dag_runs", []))))
    sections.append(
        ("Wall time per stage", _stages(summary.get("stages", []), summary.get("wall_seconds", 0.0)))
    )
    if summary.get("memory"):
        sections.append(("Memory of the whole local platform", _memory(summary["memory"])))
    if summary.get("checks"):
        sections.append(("Reconciliation", _checks(summary["checks"])))
    verdict = (
        "PASSED"
        if summary.get("ok")
        else f"FAILED: {summary.get('error') or ', '.join(summary.get('failed_checks', []))}"
    )
    body = "\n\n".join(f"-- {title} --\n{text}" for title, text in sections)
    return f"\n==================== make demo summary ====================\n{body}\n\nDemo {verdict}"
