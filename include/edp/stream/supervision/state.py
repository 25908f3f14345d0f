"""What the streaming supervisor remembers between DAG runs, and where it keeps it.

Two documents in the environment's state store (:mod:`edp.orchestration.state`, chosen by
:mod:`edp.resources`):

* ``streaming/supervision`` (``SupervisionState.to_dict``): the desired state (``running`` unless
  someone ran the ``stop`` action), the last time the job was seen healthy, and a short history of
  closed incidents. Locally ``<state dir>/streaming/supervision.json``, next to the job's metrics
  file; on AWS the Airflow Variable ``streaming_supervision_state``.
* the open incident with its restart attempts and whether it was alerted: the platform's one
  :class:`edp.alerting.incidents.Incident`, kind ``streaming_unrecoverable``, in the platform's one
  incident store, so the ordinary failure callback alerts it once per incident.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from edp.alerting.alerts import STREAMING_UNRECOVERABLE
from edp.alerting.incidents import Incident, IncidentStore, incident_store

if TYPE_CHECKING:
    from edp.config import PlatformConfig
    from edp.orchestration.state import StateStore

SCHEMA_VERSION = 2  # 1 kept the open incident inside this document
READABLE_VERSIONS = (1, SCHEMA_VERSION)
DOCUMENT = "streaming/supervision"
HISTORY_LIMIT = 10


class DesiredState(enum.StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def open_incident(reason: str, now: datetime) -> Incident:
    """A new streaming incident: the first unhealthy verdict of a job that should run."""
    return Incident.open(
        STREAMING_UNRECOVERABLE, now, reason, id=f"streaming-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    )


@dataclasses.dataclass(frozen=True)
class SupervisionState:
    """Everything the supervisor carries from one DAG run to the next (see the module docstring)."""

    desired: DesiredState = DesiredState.RUNNING
    desired_changed_at: datetime | None = None
    desired_changed_by: str | None = None
    incident: Incident | None = None
    last_healthy_at: datetime | None = None
    history: tuple[dict[str, Any], ...] = ()

    def close_incident(self, now: datetime, resolution: str) -> SupervisionState:
        """Move the open incident (if any) to the history, newest first, with how it ended."""
        if self.incident is None:
            return self
        closed = {**self.incident.to_dict(), "closed_at": _iso(now), "resolution": resolution}
        return dataclasses.replace(self, incident=None, history=(closed, *self.history)[:HISTORY_LIMIT])

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "desired": self.desired.value,
            "desired_changed_at": _iso(self.desired_changed_at),
            "desired_changed_by": self.desired_changed_by,
            "last_healthy_at": _iso(self.last_healthy_at),
            "history": list(self.history),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, incident: Incident | None = None) -> SupervisionState:
        """The document's state with ``incident`` as the open incident (a version 1 document's own if none)."""
        if not data:
            return cls(incident=incident)
        version = data.get("schema_version", SCHEMA_VERSION)
        if version not in READABLE_VERSIONS:
            raise ValueError(f"supervision state has schema_version {version}, expected {SCHEMA_VERSION}")
        if incident is None and data.get("incident"):
            incident = Incident.from_dict(data["incident"], kind=STREAMING_UNRECOVERABLE)
        return cls(
            desired=DesiredState(data.get("desired", DesiredState.RUNNING.value)),
            desired_changed_at=_parse(data.get("desired_changed_at")),
            desired_changed_by=data.get("desired_changed_by"),
            incident=incident,
            last_healthy_at=_parse(data.get("last_healthy_at")),
            history=tuple(data.get("history", [])),
        )


class SupervisionStore:
    """Load and save the supervision state: its own document plus the open incident in the incident store.

    :param state: the environment's state store.
    :param incidents: the platform's incident store (default: over ``state``).
    """

    def __init__(self, state: StateStore, incidents: IncidentStore | None = None) -> None:
        self.state = state
        self.incidents = incidents or IncidentStore(state)

    @property
    def location(self) -> str:
        return self.state.location(DOCUMENT)

    def load(self) -> SupervisionState:
        incident = self.incidents.load(STREAMING_UNRECOVERABLE)
        return SupervisionState.from_dict(
            self.state.load(DOCUMENT), incident if incident is not None and incident.is_open else None
        )

    def save(self, state: SupervisionState) -> None:
        self.state.save(DOCUMENT, state.to_dict())
        if state.incident is not None:
            self.incidents.save(state.incident)
            return
        stored = self.incidents.load(STREAMING_UNRECOVERABLE)
        if stored is not None and stored.is_open:  # closed by this state: record when, from its history
            closed = next((h for h in state.history if h.get("id") == stored.id), None)
            closed_at = datetime.fromisoformat(closed["closed_at"]) if closed else datetime.now(tz=UTC)
            self.incidents.save(dataclasses.replace(stored, closed_at=closed_at))


def supervision_store(config: PlatformConfig) -> SupervisionStore:
    """The supervision state in the state store of ``config``'s environment."""
    return SupervisionStore(incident_store(config).state)
