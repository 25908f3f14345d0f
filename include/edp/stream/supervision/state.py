"""What the streaming supervisor remembers between DAG runs, and where it keeps it.

One JSON document (``SupervisionState.to_dict``): the desired state (``running`` unless someone ran
the ``stop`` action), the open incident with its restart attempts and whether it was alerted, the
last time the job was seen healthy, and a short history of closed incidents.

Where it lives is one mapping per environment (:func:`state_store_for`):

* ``aws``: the Airflow Variable ``streaming_supervision_state``. Workers are ephemeral containers, so
  a file would not survive the next run; the metadata DB does, every worker reads the same value, and
  an operator can read (or reset) it in the UI. ``max_active_runs=1`` makes the DAG its only writer.
* ``local``: ``<state dir>/streaming/supervision.json``, next to the job's metrics file and the local
  runtime's process state on the same machine. ``make clean`` resets it together with the job it
  describes, and the CLI and tests can read it without an Airflow API server.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from edp.config import PlatformConfig

SCHEMA_VERSION = 1
STATE_VARIABLE = "streaming_supervision_state"
STATE_FILE_NAME = "supervision.json"
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


@dataclasses.dataclass(frozen=True)
class RestartAttempt:
    """One (re)start the supervisor made for an incident.

    :param at: when it was made.
    :param reason: the verdict that called for it (``not running``, ``no progress for 412s ...``).
    :param outcome: ``started pid 4242`` / ``started run 981`` or ``failed: <error>``.
    """

    at: datetime
    reason: str
    outcome: str

    def to_dict(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "reason": self.reason, "outcome": self.outcome}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RestartAttempt:
        at = _parse(data["at"])
        assert at is not None
        return cls(at=at, reason=str(data["reason"]), outcome=str(data["outcome"]))


@dataclasses.dataclass(frozen=True)
class Incident:
    """A period in which the job should run but is not healthy; closed when it is healthy again.

    :param id: stable identifier; the alert's dedup key is built from it.
    :param opened_at: the first unhealthy verdict.
    :param reason: that verdict's reasons.
    :param attempts: restarts made for it, oldest first.
    :param exhausted_at: when the restart budget ran out (the supervisor gave up).
    :param alerted_at: when the ``streaming_unrecoverable`` alert for it was published.
    """

    id: str
    opened_at: datetime
    reason: str
    attempts: tuple[RestartAttempt, ...] = ()
    exhausted_at: datetime | None = None
    alerted_at: datetime | None = None

    @classmethod
    def open(cls, reason: str, now: datetime) -> Incident:
        return cls(id=f"streaming-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}", opened_at=now, reason=reason)

    @property
    def last_attempt(self) -> RestartAttempt | None:
        return self.attempts[-1] if self.attempts else None

    def with_attempt(self, attempt: RestartAttempt) -> Incident:
        return dataclasses.replace(self, attempts=(*self.attempts, attempt))

    def with_last_outcome(self, outcome: str) -> Incident:
        """The same incident with its last attempt's outcome replaced (a deferred restart finished)."""
        if not self.attempts:
            return self
        last = dataclasses.replace(self.attempts[-1], outcome=outcome)
        return dataclasses.replace(self, attempts=(*self.attempts[:-1], last))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "opened_at": _iso(self.opened_at),
            "reason": self.reason,
            "attempts": [a.to_dict() for a in self.attempts],
            "exhausted_at": _iso(self.exhausted_at),
            "alerted_at": _iso(self.alerted_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Incident:
        opened_at = _parse(data["opened_at"])
        assert opened_at is not None
        return cls(
            id=str(data["id"]),
            opened_at=opened_at,
            reason=str(data.get("reason", "")),
            attempts=tuple(RestartAttempt.from_dict(a) for a in data.get("attempts", [])),
            exhausted_at=_parse(data.get("exhausted_at")),
            alerted_at=_parse(data.get("alerted_at")),
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
            "incident": None if self.incident is None else self.incident.to_dict(),
            "last_healthy_at": _iso(self.last_healthy_at),
            "history": list(self.history),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SupervisionState:
        if not data:
            return cls()
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ValueError(f"supervision state has schema_version {version}, expected {SCHEMA_VERSION}")
        incident = data.get("incident")
        return cls(
            desired=DesiredState(data.get("desired", DesiredState.RUNNING.value)),
            desired_changed_at=_parse(data.get("desired_changed_at")),
            desired_changed_by=data.get("desired_changed_by"),
            incident=Incident.from_dict(incident) if incident else None,
            last_healthy_at=_parse(data.get("last_healthy_at")),
            history=tuple(data.get("history", [])),
        )


class StateStore(Protocol):
    """Load and save the supervision state; ``location`` says where, for logs and the run summary."""

    location: str

    def load(self) -> SupervisionState: ...

    def save(self, state: SupervisionState) -> None: ...


@dataclasses.dataclass(frozen=True)
class FileStateStore:
    """The state as a JSON file, replaced atomically (local environment)."""

    path: Path

    @property
    def location(self) -> str:
        return str(self.path)

    def load(self) -> SupervisionState:
        try:
            return SupervisionState.from_dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return SupervisionState()

    def save(self, state: SupervisionState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state.to_dict(), indent=2))
        tmp.replace(self.path)


@dataclasses.dataclass(frozen=True)
class VariableStateStore:
    """The state as a JSON Airflow Variable (aws environment); call from inside a running task only."""

    key: str = STATE_VARIABLE

    @property
    def location(self) -> str:
        return f"Airflow Variable {self.key!r}"

    def load(self) -> SupervisionState:
        from airflow.sdk import Variable  # noqa: PLC0415 - task-time only

        return SupervisionState.from_dict(Variable.get(self.key, default=None, deserialize_json=True))

    def save(self, state: SupervisionState) -> None:
        from airflow.sdk import Variable  # noqa: PLC0415

        Variable.set(
            self.key,
            state.to_dict(),
            description="Streaming supervisor state (streaming_supervisor DAG); delete it to reset.",
            serialize_json=True,
        )


def state_store_for(config: PlatformConfig) -> StateStore:
    """The local file next to the job's metrics, or the Airflow Variable on AWS (see the module docstring)."""
    if config.is_local:
        from edp.lake import streaming_state_dir  # noqa: PLC0415 - keep DAG parsing light

        return FileStateStore(streaming_state_dir(config) / STATE_FILE_NAME)
    return VariableStateStore()
