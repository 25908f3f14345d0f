"""The verdict on the streaming job: pure rules over what the controller and the metrics report.

=============  ====================================================================  ==============
status         when                                                                  supervisor
=============  ====================================================================  ==============
``stopped``    someone ran the ``stop`` action; the job is meant to be down           leaves it
``starting``   running, no heartbeat since its start yet, within the start-up grace   waits
``healthy``    running, fresh heartbeat, source lag within bound                      closes incident
``degraded``   as healthy, but silver has not changed for longer than its bound       reports it
               while the job keeps reading input
``unhealthy``  not running; ended (state terminated/failed); no heartbeat within      restarts
               the bound (or none since the grace ended); source lag over its bound
=============  ====================================================================  ==============

Why silver staleness does not restart the job: the job writes silver in the same micro-batch as
bronze, so a job with fresh heartbeats and input but no silver commits is one whose input is all
rejected (quarantined) or duplicate. A restart does not change the data; the reason is reported in
the run summary and data-quality checks own it.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime, timedelta
from typing import Any

from edp.stream.supervision.controllers import JobStatus
from edp.stream.supervision.metrics import ENDED_STATES, StreamingMetrics
from edp.stream.supervision.state import DesiredState


class Status(enum.StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


@dataclasses.dataclass(frozen=True)
class HealthBounds:
    """How old or far behind things may be before the job counts as unhealthy (or degraded).

    :param max_heartbeat_age: the newest query event (progress or idle) may be this old.
    :param startup_grace: a started job may go this long without a heartbeat.
    :param max_source_lag: how far behind the stream's tip the reader may be.
    :param max_silver_lag: how long after the last input-carrying batch silver may stay unchanged;
        ``None`` skips the check.
    """

    max_heartbeat_age: timedelta = timedelta(minutes=2)
    startup_grace: timedelta = timedelta(seconds=90)
    max_source_lag: timedelta = timedelta(minutes=10)
    max_silver_lag: timedelta | None = timedelta(minutes=15)


@dataclasses.dataclass(frozen=True)
class Observation:
    """Everything the verdict is drawn from, gathered at one moment (``now``)."""

    now: datetime
    job: JobStatus
    desired: DesiredState
    metrics: StreamingMetrics | None = None
    silver_committed_at: datetime | None = None


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Health status, the reasons behind it (one line each) and the facts for the run summary."""

    status: Status
    reasons: tuple[str, ...]
    facts: dict[str, Any]

    @property
    def needs_restart(self) -> bool:
        return self.status is Status.UNHEALTHY

    @property
    def summary(self) -> str:
        return f"{self.status.value}: " + ("; ".join(self.reasons) or "all checks passed")

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "reasons": list(self.reasons), "facts": self.facts}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(Status(data["status"]), tuple(data["reasons"]), dict(data["facts"]))


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():.0f}s"


def _current_metrics(observation: Observation) -> StreamingMetrics | None:
    """The metrics, unless they were written before the running job started (an earlier run's)."""
    metrics, started = observation.metrics, observation.job.started_at
    if metrics is None or metrics.heartbeat_at is None:
        return None
    if started is not None and metrics.heartbeat_at < started:
        return None
    return metrics


def _liveness(observation: Observation, bounds: HealthBounds) -> tuple[Status, list[str]] | None:
    """STOPPED, UNHEALTHY or STARTING if the job is not up and beating; None when it is."""
    job, now = observation.job, observation.now
    if observation.desired is DesiredState.STOPPED:
        extra = f" (but it runs: {job.ref})" if job.running else ""
        return Status.STOPPED, [f"stopped on request{extra}"]
    if not job.running:
        return Status.UNHEALTHY, [f"not running ({job.detail})" if job.detail else "not running"]
    metrics = _current_metrics(observation)
    if metrics is not None and metrics.state in ENDED_STATES:
        error = f": {metrics.error.splitlines()[0]}" if metrics.error else ""
        return Status.UNHEALTHY, [f"query {metrics.state}{error}"]
    if metrics is None:
        since = now - job.started_at if job.started_at else None
        if since is not None and since <= bounds.startup_grace:
            return Status.STARTING, [f"started {_seconds(since)} ago, no heartbeat yet"]
        waited = f" in {_seconds(since)} since start-up" if since is not None else ""
        return Status.UNHEALTHY, [f"no heartbeat{waited} (grace {_seconds(bounds.startup_grace)})"]
    assert metrics.heartbeat_at is not None
    age = now - metrics.heartbeat_at
    if age > bounds.max_heartbeat_age:
        return Status.UNHEALTHY, [
            f"no heartbeat for {_seconds(age)} (bound {_seconds(bounds.max_heartbeat_age)})"
        ]
    return None


def _flow(metrics: StreamingMetrics, silver_at: datetime | None, bounds: HealthBounds) -> tuple[list, list]:
    """(unhealthy reasons, degraded reasons) from source lag and silver freshness."""
    unhealthy: list[str] = []
    degraded: list[str] = []
    lag_ms = metrics.source_lag_ms
    if lag_ms is not None and timedelta(milliseconds=lag_ms) > bounds.max_source_lag:
        unhealthy.append(f"source lag {lag_ms / 1000:.0f}s (bound {_seconds(bounds.max_source_lag)})")
    progress = metrics.last_progress_at
    # No silver table yet (the job creates it at start-up) leaves freshness unjudged.
    judged = bounds.max_silver_lag is not None and progress is not None and silver_at is not None
    if judged and (metrics.num_input_rows or 0) > 0:
        behind = progress - silver_at  # type: ignore[operator] - both checked above
        if behind > bounds.max_silver_lag:  # type: ignore[operator]
            degraded.append(
                f"silver unchanged for {_seconds(behind)} of input (bound {_seconds(bounds.max_silver_lag)})"  # type: ignore[arg-type]
            )
    return unhealthy, degraded


def _facts(observation: Observation) -> dict[str, Any]:
    job, metrics = observation.job, observation.metrics
    silver = observation.silver_committed_at
    return {
        "judged_at": observation.now.isoformat(),
        "desired": observation.desired.value,
        "job": job.to_dict(),
        "metrics": None if metrics is None else metrics.to_dict(),
        "silver_committed_at": None if silver is None else silver.isoformat(),
        "heartbeat_age_s": (
            None
            if metrics is None or metrics.heartbeat_at is None
            else round((observation.now - metrics.heartbeat_at).total_seconds(), 1)
        ),
    }


def assess(observation: Observation, bounds: HealthBounds) -> Verdict:
    """The verdict for one observation (see the module docstring for the rules)."""
    facts = _facts(observation)
    early = _liveness(observation, bounds)
    if early is not None:
        status, reasons = early
        return Verdict(status, tuple(reasons), facts)
    metrics = _current_metrics(observation)
    assert metrics is not None  # _liveness returns a status otherwise
    unhealthy, degraded = _flow(metrics, observation.silver_committed_at, bounds)
    if unhealthy:
        return Verdict(Status.UNHEALTHY, tuple(unhealthy + degraded), facts)
    if degraded:
        return Verdict(Status.DEGRADED, tuple(degraded), facts)
    return Verdict(Status.HEALTHY, (), facts)
