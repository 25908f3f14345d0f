"""Open incidents, so a condition that fails every run is alerted once, not once per run.

A check that finds a condition (data older than its bound, say) calls :func:`open_or_continue` and
raises an :class:`edp.alerting.failures.AlertingFailure` carrying the incident's id. The failure
callback publishes the alert only if the incident was not alerted yet, and then records
``alerted_at`` (:meth:`orchestration.PlatformAlertNotifier.notify`). The mark is written after the
publish succeeded: if SNS was unreachable the next failing run tries again, so an alert is delayed,
never dropped. When the condition clears, :func:`resolve` closes the incident; the next occurrence
is a new incident with a new id and a new alert.

Every incident of the platform is this one :class:`Incident` (the streaming supervisor's too, with its
restart attempts), kept in one place: the environment's state store (:mod:`edp.orchestration.state`),
one document per alert kind. Locally that is ``<state dir>/incidents/<kind>.json``; on AWS the Airflow
Variable ``platform_incident__<kind>``. The DAGs using this run with ``max_active_runs=1``, so each
kind has one writer at a time.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from edp.alerting.alerts import validate_alert_kind

if TYPE_CHECKING:
    from edp.config import PlatformConfig
    from edp.orchestration.state import StateStore

DOCUMENT_PREFIX = "incidents/"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class RecoveryAttempt:
    """One automatic recovery made for an incident (the streaming supervisor's restarts).

    :param at: when it was made.
    :param reason: the finding that called for it (``not running``, ``no progress for 412s ...``).
    :param outcome: ``started pid 4242`` / ``started run 981`` or ``failed: <error>``.
    """

    at: datetime
    reason: str
    outcome: str

    def to_dict(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "reason": self.reason, "outcome": self.outcome}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecoveryAttempt:
        at = _parse(data["at"])
        assert at is not None
        return cls(at=at, reason=str(data["reason"]), outcome=str(data["outcome"]))


@dataclasses.dataclass(frozen=True)
class Incident:
    """One open (or just closed) occurrence of a condition.

    :param kind: the alert kind it is alerted as.
    :param id: stable for the incident's life; the alert's dedup key is ``<kind>/<id>``.
    :param detail: the latest description of the condition.
    :param alerted_at: when its alert was published; ``None`` until then.
    :param closed_at: when the condition cleared; ``None`` while open.
    :param failures: how many checks found the condition during the incident.
    :param attempts: automatic recoveries made for it, oldest first.
    :param exhausted_at: when the recovery budget ran out (the supervisor gave up).
    """

    kind: str
    id: str
    opened_at: datetime
    last_seen_at: datetime
    detail: str = ""
    alerted_at: datetime | None = None
    closed_at: datetime | None = None
    failures: int = 1
    attempts: tuple[RecoveryAttempt, ...] = ()
    exhausted_at: datetime | None = None

    @classmethod
    def open(cls, kind: str, now: datetime, detail: str = "", *, id: str | None = None) -> Incident:
        return cls(
            kind=validate_alert_kind(kind),
            id=id or uuid.uuid4().hex[:12],
            opened_at=now,
            last_seen_at=now,
            detail=detail,
        )

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def last_attempt(self) -> RecoveryAttempt | None:
        return self.attempts[-1] if self.attempts else None

    def with_attempt(self, attempt: RecoveryAttempt) -> Incident:
        return dataclasses.replace(self, attempts=(*self.attempts, attempt), last_seen_at=attempt.at)

    def with_last_outcome(self, outcome: str) -> Incident:
        """The same incident with its last attempt's outcome replaced (a deferred restart finished)."""
        if not self.attempts:
            return self
        last = dataclasses.replace(self.attempts[-1], outcome=outcome)
        return dataclasses.replace(self, attempts=(*self.attempts[:-1], last))

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
            "attempts": [a.to_dict() for a in self.attempts],
            "exhausted_at": _iso(self.exhausted_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, kind: str | None = None) -> Incident:
        """Read :meth:`to_dict`'s form; ``kind`` and ``reason`` stand in for fields older documents lack."""
        opened = _parse(data["opened_at"])
        assert opened is not None
        return cls(
            kind=str(data.get("kind") or kind),
            id=str(data["id"]),
            opened_at=opened,
            last_seen_at=_parse(data.get("last_seen_at")) or opened,
            detail=str(data.get("detail", data.get("reason", ""))),
            alerted_at=_parse(data.get("alerted_at")),
            closed_at=_parse(data.get("closed_at")),
            failures=int(data.get("failures", 1)),
            attempts=tuple(RecoveryAttempt.from_dict(a) for a in data.get("attempts", [])),
            exhausted_at=_parse(data.get("exhausted_at")),
        )


class IncidentStore:
    """The incident of each alert kind, one state document per kind (``incidents/<kind>``).

    :param state: the state store of the environment (:mod:`edp.orchestration.state`).
    """

    def __init__(self, state: StateStore) -> None:
        self.state = state

    @staticmethod
    def document(kind: str) -> str:
        return f"{DOCUMENT_PREFIX}{validate_alert_kind(kind)}"

    def location(self, kind: str) -> str:
        return self.state.location(self.document(kind))

    def load(self, kind: str) -> Incident | None:
        data = self.state.load(self.document(kind))
        return Incident.from_dict(data, kind=kind) if data else None

    def save(self, incident: Incident) -> None:
        self.state.save(self.document(incident.kind), incident.to_dict())


def incident_store(config: PlatformConfig) -> IncidentStore:
    """The incidents of ``config``'s environment, in its state store."""
    from edp.resources import resources  # noqa: PLC0415 - the mapping loads its factories lazily

    return IncidentStore(resources(config).state)


def open_or_continue(store: IncidentStore, kind: str, now: datetime, detail: str) -> Incident:
    """The open incident of ``kind``, updated with ``detail``; a new one if none is open."""
    current = store.load(kind)
    if current is not None and current.is_open:
        incident = dataclasses.replace(
            current, last_seen_at=now, detail=detail, failures=current.failures + 1
        )
    else:
        incident = Incident.open(kind, now, detail)
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
