"""Failures that name their own alert, for tasks whose failure is not a generic ``task_failure``.

Raise one of these in a task: the task fails at once (they are ``AirflowFailException``\\ s, so no
retries: retrying a failed quality check or a stale table changes nothing), and the platform's
failure callback (:class:`orchestration.PlatformAlertNotifier`, set by ``platform_default_args``)
publishes exactly one alert of the exception's kind, with its ``details``. No per-task callback is
needed.

For the quality gate (the data-quality helper calls this when a checkpoint fails)::

    from edp.alerting.failures import raise_quality_gate_alert

    if not result.success:
        raise_quality_gate_alert(
            suite="silver.events",
            table="silver.events",
            failed_expectations=[...],          # e.g. "expect_column_values_to_not_be_null(user_id)"
            evaluated=len(result.results),
            data_docs_url=docs_url,             # optional
        )

An exception with an ``incident_id`` is alerted once per incident (see :mod:`edp.alerting.incidents`),
however many runs fail while the incident is open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from airflow.sdk.exceptions import AirflowFailException

from edp.alerting.alerts import FRESHNESS_DEADLINE_MISSED, QUALITY_GATE_FAILED, TASK_FAILURE, Severity

FAILED_LIST_LIMIT = 10


class AlertingFailure(AirflowFailException):
    """Fail the task without retries and choose the alert: kind, severity, details, incident.

    :param message: the error summary's text (its first line lands in the alert).
    :param details: small JSON-safe facts for the alert's ``details`` (shown in Slack).
    :param incident_id: set to alert once per incident instead of once per failed run.
    """

    alert_kind: str = TASK_FAILURE
    alert_severity: Severity = Severity.ERROR

    def __init__(
        self, message: str, *, details: Mapping[str, Any] | None = None, incident_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.alert_details = dict(details or {})
        self.incident_id = incident_id


class QualityGateFailed(AlertingFailure):
    """A data-quality gate rejected a batch; downstream tasks must not publish it."""

    alert_kind = QUALITY_GATE_FAILED
    alert_severity = Severity.ERROR


class FreshnessDeadlineMissed(AlertingFailure):
    """Data in a table is older than its freshness bound (see :mod:`data_freshness`)."""

    alert_kind = FRESHNESS_DEADLINE_MISSED
    alert_severity = Severity.ERROR


def raise_quality_gate_alert(
    *,
    suite: str,
    failed_expectations: Sequence[str],
    evaluated: int,
    table: str | None = None,
    data_docs_url: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> NoReturn:
    """Raise :class:`QualityGateFailed` with the standard message and details for a failed suite."""
    failed = list(failed_expectations)
    shown = ", ".join(failed[:3]) + (f" and {len(failed) - 3} more" if len(failed) > 3 else "")
    target = f" on {table}" if table else ""
    message = f"suite {suite}{target}: {len(failed)} of {evaluated} expectations failed" + (
        f" ({shown})" if shown else ""
    )
    facts: dict[str, Any] = {
        "suite": suite,
        "failed": len(failed),
        "evaluated": evaluated,
        "failed_expectations": failed[:FAILED_LIST_LIMIT],
    }
    if table:
        facts["table"] = table
    if data_docs_url:
        facts["data_docs_url"] = data_docs_url
    facts.update(details or {})
    raise QualityGateFailed(message, details=facts)
