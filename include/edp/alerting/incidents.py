"""Open incidents, so a condition that fails every run is alerted once, not once per run.

A check that finds a condition (data older than its bound, say) calls :func:`open_or_continue` and
raises an :class:`edp.alerting.failures.AlertingFailure` carrying the incident's id. The failure
callback publishes the alert only if the incident was not alerted yet, and then records
``alerted_at`` (:meth:`orchestration.PlatformAlertNotifier.notify`). The mark is written after the
publish succeeded: if SNS was unreachable the next failing run tries again, so an alert is delayed,
never dropped. When the condition clears, :func:`resolve` closes the incident; the next occurrence
is a new incident with a new id and a new alert.

Where the state lives (:func:`incident_store_for`):

* ``aws``: an Airflow Variable per alert kind (``platform_incident__<kind>``). Workers are ephemeral,
  the metadata DB is shared and operators can read or reset it in the UI.
* ``local``: ``<state dir>/incidents/<kind>.json``, readable without an API server, and reset by
  ``make clean`` with the rest of the local state.

The DAGs using this run with ``max_active_runs=1``, so each kind has one writer at a time.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from edp.alerting.alerts import validate_alert_kind
from edp.config import PlatformConfig

VARIABLE_PREFIX = "platform_incident__"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class Incident:
    """One open (or just closed) occurrence of a condition.

    :param kind: the alert kind it is alerted as.
    :param id: stable for the incident's life; the alert's dedup key is ``<kind>/<id>``.
    :param detail: the latest description of the condition.
    :param alerted_at: when its alert was published; ``None`` until then.
    :param closed_at: when the condition cleared; ``None`` while open.
    """

    kind: str
    id: str
    opened_at: datetime
    last_seen_at: datetime
    detail: str = ""
    alerted_at: datetime | None = None
    closed_at: datetime | None = None
    failures: int = 1

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "opened_at": _iso(self.opened_at),
            "last_seen_at": _iso(self.last_seen_at),
            "detail": self.detail,
            "alerted_at": _iso(self.alerted_at),
            "closed_at": _iso(self.closed_at),
            "failures": self.failures,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        opened, seen = _parse(data["opened_at"]), _parse(data["last_seen_at"])
        assert opened is not None and seen is not None
        return cls(
            kind=str(data["kind"]),
            id=str(data["id"]),
            opened_at=opened,
            last_seen_at=seen,
            detail=str(data.get("detail", "")),
            alerted_at=_parse(data.get("alerted_at")),
            closed_at=_parse(data.get("closed_at")),
            failures=int(data.get("failures", 1)),
        )


class IncidentStore(Protocol):
    location: str

    def load(self, kind: str) -> Incident | None: ...

    def save(self, incident: Incident) -> None: ...


class FileIncidentStore:
    """One JSON file per kind under ``directory``; written atomically."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.location = str(self.directory)

    def _path(self, kind: str) -> Path:
        return self.directory / f"{validate_alert_kind(kind)}.json"

    def load(self, kind: str) -> Incident | None:
        try:
            return Incident.from_dict(json.loads(self._path(kind).read_text()))
        except FileNotFoundError:
            return None

    def save(self, incident: Incident) -> None:
        path = self._path(incident.kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(incident.to_dict(), indent=2))
        tmp.replace(path)


class VariableIncidentStore:
    """One Airflow Variable per kind (task and callback time only: it talks to the API server)."""

    location = f"Variable {VARIABLE_PREFIX}<kind>"

    def load(self, kind: str) -> Incident | None:
        from airflow.sdk import Variable  # noqa: PLC0415 - task-time only

        raw = Variable.get(VARIABLE_PREFIX + validate_alert_kind(kind), default=None)
        return Incident.from_dict(json.loads(raw)) if raw else None

    def save(self, incident: Incident) -> None:
        from airflow.sdk import Variable  # noqa: PLC0415

        Variable.set(VARIABLE_PREFIX + validate_alert_kind(incident.kind), json.dumps(incident.to_dict()))


def incident_store_for(config: PlatformConfig) -> IncidentStore:
    if config.is_local:
        return FileIncidentStore(config.state_dir / "incidents")
    return VariableIncidentStore()


def open_or_continue(store: IncidentStore, kind: str, now: datetime, detail: str) -> Incident:
    """The open incident of ``kind``, updated with ``detail``; a new one if none is open."""
    current = store.load(kind)
    if current is not None and current.is_open:
        incident = dataclasses.replace(
            current, last_seen_at=now, detail=detail, failures=current.failures + 1
        )
    else:
        incident = Incident(
            kind=kind, id=uuid.uuid4().hex[:12], opened_at=now, last_seen_at=now, detail=detail
        )
    store.save(incident)
    return incident


def resolve(store: IncidentStore, kind: str, now: datetime) -> Incident | None:
    """Close the open incident of ``kind``, if any, and return it (closed)."""
    current = store.load(kind)
    if current is None or not current.is_open:
        return None
    closed = dataclasses.replace(current, closed_at=now)
    store.save(closed)
    return closed


def mark_alerted(store: IncidentStore, kind: str, incident_id: str, now: datetime) -> bool:
    """Record that the incident's alert went out; ``False`` if that incident is no longer the stored one."""
    current = store.load(kind)
    if current is None or current.id != incident_id:
        return False
    store.save(dataclasses.replace(current, alerted_at=now))
    return True
