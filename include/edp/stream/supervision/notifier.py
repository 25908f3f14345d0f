"""The ``streaming_unrecoverable`` alert: published once per incident, however many runs fail.

The ``escalate`` task fails on every run while an incident is exhausted, so the DAG's grid shows the
outage for as long as it lasts. This notifier is that task's failure callback. It publishes only if
the incident has not been alerted yet, then records ``alerted_at`` in the supervision state. The mark
is written after the publish succeeded: if SNS is unreachable the next run tries again, so a lost
alert is retried rather than silently dropped. The alert's ``dedup_key`` is the incident's
(``streaming_unrecoverable/<incident id>``), so a consumer can also drop a repeat.

A failure of the task for any other reason (say the state store is unreadable) is an ordinary task
failure and is published as ``task_failure``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from edp.alerting.alerts import Severity
from edp.alerting.notifier import PlatformAlertNotifier
from edp.config import PlatformConfig, get_config

if TYPE_CHECKING:
    from airflow.sdk import Context

    from edp.stream.supervision.state import StateStore

ALERT_KIND = "streaming_unrecoverable"


class StreamingIncidentNotifier(PlatformAlertNotifier):
    """``streaming_unrecoverable`` alert (critical) for the open, exhausted incident, once per incident.

    :param store: where the supervision state lives; default: :func:`state_store_for` at alert time.
    """

    def __init__(self, *, config: PlatformConfig | None = None, store: StateStore | None = None) -> None:
        super().__init__(alert_kind=ALERT_KIND, severity=Severity.CRITICAL, config=config)
        self.store = store
        self._incident_id: str | None = None

    def build_payload(self, context: Context | dict[str, Any], config: PlatformConfig) -> dict[str, Any]:
        payload = super().build_payload(context, config)
        if self._incident_id:
            payload["dedup_key"] = f"{ALERT_KIND}/{self._incident_id}"
        return payload

    def _store(self, config: PlatformConfig) -> StateStore:
        from edp.stream.supervision.state import state_store_for  # noqa: PLC0415

        return self.store or state_store_for(config)

    def notify(self, context: Context) -> None:
        from edp.stream.supervision.supervise import StreamingUnrecoverableError  # noqa: PLC0415

        if not isinstance(context.get("exception"), StreamingUnrecoverableError):
            PlatformAlertNotifier(config=self.config)(context)
            return
        config = self.config or get_config()
        store = self._store(config)
        state = store.load()
        incident = state.incident
        if incident is None or incident.exhausted_at is None:
            self.log.warning("no exhausted streaming incident in %s; nothing to alert", store.location)
            return
        if incident.alerted_at is not None:
            self.log.info(
                "incident %s was alerted at %s; not alerting again",
                incident.id,
                incident.alerted_at.isoformat(),
            )
            return
        self._incident_id = incident.id
        try:
            super().notify(context)
        finally:
            self._incident_id = None
        alerted = dataclasses.replace(incident, alerted_at=datetime.now(tz=UTC))
        store.save(dataclasses.replace(state, incident=alerted))
