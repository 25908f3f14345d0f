"""The platform's alert payload, built from an Airflow task context.

Pure functions over plain mappings and attribute access: no Airflow, no AWS, so they are tested with a
hand-built context. The payload is the JSON body published to the SNS alert topic; the SNS-to-Slack
Lambda and anything else subscribed to the topic read these keys (``schema_version`` guards changes):

``schema_version, alert_kind, severity, environment, title, dag_id, task_id, map_index, run_id,
try_number, logical_date, data_interval_start, data_interval_end, error, log_url, runbook,
dedup_key, emitted_at``

Dates are ISO-8601 strings (``None`` when Airflow has none, e.g. a manual run without a logical date).
``runbook`` is a path relative to the repository root: ``docs/runbooks/<alert_kind>.md``.

A failure can choose its own alert: an exception with ``alert_kind`` / ``alert_severity`` /
``alert_details`` / ``incident_id`` attributes (see :mod:`edp.alerting.failures`) overrides the
callback's defaults in :func:`build_failure_alert`, which then adds an optional ``details`` mapping
(JSON-safe, at most 20 keys) and, for an incident, the dedup key ``<alert_kind>/<incident_id>``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

ALERT_SCHEMA_VERSION = 1
RUNBOOK_DIR = "docs/runbooks"
ERROR_SUMMARY_LIMIT = 300
SNS_SUBJECT_LIMIT = 100  # SNS rejects longer subjects
TASK_FAILURE = "task_failure"
PLATFORM_UNHEALTHY = "platform_unhealthy"
QUALITY_GATE_FAILED = "quality_gate_failed"
FRESHNESS_DEADLINE_MISSED = "freshness_deadline_missed"
STREAMING_UNRECOVERABLE = "streaming_unrecoverable"
DETAILS_LIMIT = 20  # keys of an alert's optional ``details`` mapping

_ALERT_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_NOT_SUBJECT_SAFE = re.compile(r"[^\x20-\x7e]+")  # SNS subjects: printable ASCII, no line breaks


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


def validate_alert_kind(alert_kind: str) -> str:
    """Alert kinds name runbook files and SNS filter values, so they are lower-case slugs."""
    if not _ALERT_KIND.fullmatch(alert_kind):
        raise ValueError(f"alert kind {alert_kind!r} must be a lower-case slug like 'task_failure'")
    return alert_kind


def runbook_path(alert_kind: str) -> str:
    """Repository-relative path of the runbook for an alert kind."""
    return f"{RUNBOOK_DIR}/{validate_alert_kind(alert_kind)}.md"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def summarise_error(error: BaseException | str | None, limit: int = ERROR_SUMMARY_LIMIT) -> str:
    """``ExceptionType: first line of the message``, truncated; tracebacks stay in the task log."""
    if error is None:
        return "no exception recorded (see the task log)"
    if isinstance(error, BaseException):
        kind, message = type(error).__name__, str(error)
    else:
        kind, message = "Error", str(error)
    first_line = next((line.strip() for line in message.splitlines() if line.strip()), "")
    return truncate(f"{kind}: {first_line}" if first_line else kind, limit)


def dedup_key(dag_id: str, task_id: str, run_id: str, try_number: int, map_index: int = -1) -> str:
    """Identical for re-deliveries of the same failure, different for each try and mapped instance."""
    task = task_id if map_index is None or map_index < 0 else f"{task_id}[{map_index}]"
    return f"{dag_id}/{task}/{run_id}/{try_number}"


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _title(alert_kind: str, dag_id: str, task_id: str, try_number: int) -> str:
    label = alert_kind.replace("_", " ").replace("-", " ").capitalize()
    return f"{label}: {dag_id}.{task_id} (try {try_number})"


def build_alert(
    context: Mapping[str, Any],
    *,
    alert_kind: str = TASK_FAILURE,
    severity: Severity | str = Severity.ERROR,
    environment: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The JSON-serialisable alert for the task instance in ``context`` (a task callback context)."""
    ti = context.get("ti") or context["task_instance"]
    dag_id, task_id = str(ti.dag_id), str(ti.task_id)
    run_id = str(context.get("run_id") or ti.run_id)
    try_number = int(ti.try_number or 0)
    map_index = getattr(ti, "map_index", -1)
    map_index = -1 if map_index is None else int(map_index)
    return {
        "schema_version": ALERT_SCHEMA_VERSION,
        "alert_kind": validate_alert_kind(alert_kind),
        "severity": Severity(severity).value,
        "environment": environment,
        "title": _title(alert_kind, dag_id, task_id, try_number),
        "dag_id": dag_id,
        "task_id": task_id,
        "map_index": map_index,
        "run_id": run_id,
        "try_number": try_number,
        "logical_date": _iso(context.get("logical_date")),
        "data_interval_start": _iso(context.get("data_interval_start")),
        "data_interval_end": _iso(context.get("data_interval_end")),
        "error": summarise_error(context.get("exception")),
        "log_url": getattr(ti, "log_url", None),
        "runbook": runbook_path(alert_kind),
        "dedup_key": dedup_key(dag_id, task_id, run_id, try_number, map_index),
        "emitted_at": (now or datetime.now(tz=UTC)).isoformat(),
    }


def alert_subject(alert: Mapping[str, Any]) -> str:
    """An SNS-safe subject line: ``[ERROR][local] Task failure: dag.task (try 1)``."""
    raw = f"[{str(alert['severity']).upper()}][{alert['environment']}] {alert['title']}"
    return truncate(_NOT_SUBJECT_SAFE.sub(" ", raw).strip(), SNS_SUBJECT_LIMIT)


def message_attributes(alert: Mapping[str, Any]) -> dict[str, str]:
    """SNS message attributes, so subscriptions can filter (e.g. only ``critical`` pages someone)."""
    return {key: str(alert[key]) for key in ("alert_kind", "severity", "dag_id", "environment")}


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    return _iso(value)


def failure_overrides(exception: Any) -> dict[str, Any]:
    """What a failure says about its own alert: ``alert_kind``, ``severity``, ``details``, ``incident_id``.

    Read by duck typing, so this module needs no Airflow; only attributes that are set are returned.
    """
    overrides: dict[str, Any] = {}
    kind = getattr(exception, "alert_kind", None)
    if isinstance(kind, str) and _ALERT_KIND.fullmatch(kind):
        overrides["alert_kind"] = kind
    severity = getattr(exception, "alert_severity", None)
    if severity is not None and str(severity) in {s.value for s in Severity}:
        overrides["severity"] = Severity(str(severity))
    details = getattr(exception, "alert_details", None)
    if isinstance(details, Mapping) and details:
        overrides["details"] = _json_safe(dict(list(details.items())[:DETAILS_LIMIT]))
    incident = getattr(exception, "incident_id", None)
    if incident:
        overrides["incident_id"] = str(incident)
    return overrides


def build_failure_alert(
    context: Mapping[str, Any],
    *,
    alert_kind: str = TASK_FAILURE,
    severity: Severity | str = Severity.ERROR,
    environment: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """:func:`build_alert`, with the kind, severity and details the failure's exception names, if any."""
    overrides = failure_overrides(context.get("exception"))
    alert = build_alert(
        context,
        alert_kind=overrides.get("alert_kind", alert_kind),
        severity=overrides.get("severity", severity),
        environment=environment,
        now=now,
    )
    if "details" in overrides:
        alert["details"] = overrides["details"]
    if "incident_id" in overrides:
        alert["incident_id"] = overrides["incident_id"]
        alert["dedup_key"] = incident_dedup_key(alert["alert_kind"], overrides["incident_id"])
    return alert


def incident_dedup_key(alert_kind: str, incident_id: str) -> str:
    """One key per incident, however many runs fail during it."""
    return f"{validate_alert_kind(alert_kind)}/{incident_id}"
