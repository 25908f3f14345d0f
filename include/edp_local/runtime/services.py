"""What a locally supervised component is: a command, a port, and how to tell it is healthy."""

from __future__ import annotations

import dataclasses
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from edp.config import PlatformConfig

JsonPredicate = Callable[[Any], bool]


@runtime_checkable
class HealthCheck(Protocol):
    """How the supervisor tells a running component is serving.

    ``started_at`` (epoch seconds) is when the supervisor started the process, or ``None`` when unknown;
    checks whose evidence is written by the process itself (a metrics file) need it to ignore what an
    earlier run of the component left behind, and to allow a start-up grace period.
    """

    def probe(self, started_at: float | None = None) -> tuple[bool, str]: ...


@dataclasses.dataclass(frozen=True)
class HttpHealthCheck:
    """Healthy when ``url`` answers 2xx and, if given, its JSON body satisfies ``predicate``."""

    url: str
    predicate: JsonPredicate | None = None
    timeout_s: float = 3.0

    def probe(self, started_at: float | None = None) -> tuple[bool, str]:
        """``started_at`` is unused: an HTTP answer is current by nature."""
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as response:  # noqa: S310 - loopback only
                body = response.read()
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            return False, f"{self.url}: {exc}"
        if self.predicate is None:
            return True, "ok"
        try:
            ok = bool(self.predicate(json.loads(body)))
        except (ValueError, KeyError, TypeError) as exc:
            return False, f"{self.url}: unexpected body ({exc})"
        return ok, "ok" if ok else f"{self.url}: reports unhealthy"


def _epoch_seconds(value: Any) -> float | None:
    """Epoch seconds from an ISO-8601 string (``Z`` or offset) or a number of epoch seconds/milliseconds."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) / 1000.0 if value > 1e11 else float(value)  # > year 5138 in s: it is ms
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.timestamp() if parsed.tzinfo is not None else None
    return None


@dataclasses.dataclass(frozen=True)
class MetricsFreshnessCheck:
    """Healthy when a JSON metrics file shows a heartbeat since start-up younger than ``max_age_s``.

    For jobs that serve no port (a Spark streaming query): the job rewrites ``path`` on every event,
    and ``field`` holds the time of the last one (ISO-8601 with a zone, or epoch seconds/milliseconds).
    Heartbeats older than the process (left by an earlier run) do not count, and neither does a file
    whose ``state_field`` says the job ended. Until the first heartbeat the check passes for
    ``startup_grace_s`` after the start (a Spark job needs 20-40 s before its query starts), and the
    detail says so.

    :param path: the metrics file.
    :param max_age_s: how old the last heartbeat may be.
    :param startup_grace_s: how long after the start a missing first heartbeat is still healthy.
    :param field: top-level key holding the heartbeat time.
    :param state_field: top-level key holding the job's own state, if it reports one.
    :param ended_states: values of ``state_field`` that mean the job no longer runs.
    :param clock: wall clock in epoch seconds (tests pass their own).
    """

    path: Path
    max_age_s: float
    startup_grace_s: float = 90.0
    field: str = "written_at"
    state_field: str | None = None
    ended_states: frozenset[str] = frozenset()
    clock: Callable[[], float] = dataclasses.field(default=time.time, compare=False, repr=False)

    def read(self) -> dict[str, Any] | None:
        try:
            document = json.loads(Path(self.path).read_text())
        except (OSError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    def probe(self, started_at: float | None = None) -> tuple[bool, str]:
        now = self.clock()
        document = self.read() or {}
        beat = _epoch_seconds(document.get(self.field))
        current = beat is not None and (started_at is None or beat >= started_at)
        if current and self.state_field and document.get(self.state_field) in self.ended_states:
            return False, f"job reports {self.state_field}={document[self.state_field]!r}; see {self.path}"
        if current:
            age = max(now - beat, 0.0)  # type: ignore[operator] - current implies beat is not None
            if age <= self.max_age_s:
                return True, f"last heartbeat {age:.0f}s ago"
            return False, f"no heartbeat for {age:.0f}s (bound {self.max_age_s:.0f}s); see {self.path}"
        if started_at is not None and now - started_at <= self.startup_grace_s:
            left = self.startup_grace_s - (now - started_at)
            return True, f"starting: no heartbeat yet ({left:.0f}s of start-up grace left)"
        if not os.path.exists(self.path):
            return False, f"no metrics file {self.path}"
        return False, f"no heartbeat since start-up; see {self.path}"


@dataclasses.dataclass(frozen=True)
class ServiceSpec:
    """One background process of the local platform.

    :param name: component name shown by ``make status``.
    :param command: argv, started in its own process group.
    :param port: the loopback port it listens on (checked free before start), or None.
    :param health: how to tell it is serving (:class:`HttpHealthCheck`, :class:`MetricsFreshnessCheck`).
    :param url: what ``make status`` and ``make run`` print for humans.
    :param env: extra environment on top of the platform environment.
    :param on_ready: idempotent set-up to run once healthy (e.g. create streams).
    :param info: extra facts for ``make status`` (e.g. a demo API key).
    """

    name: str
    command: tuple[str, ...]
    health: HealthCheck
    port: int | None = None
    url: str = ""
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    on_ready: Callable[[PlatformConfig], None] | None = None
    info: Mapping[str, str] = dataclasses.field(default_factory=dict)
    start_timeout_s: float = 180.0
