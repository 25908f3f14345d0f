"""Start, stop and inspect the streaming job, behind one interface for both environments.

* :class:`DatabricksStreamingController` drives the Databricks job named
  ``databricks.streaming_job`` through the provider's ``DatabricksHook``.
* Its local twin, ``edp_local.runtime.streaming_control.LocalStreamingController``, drives the
  ``streaming-job`` component of the local runtime (``spark-submit`` in local mode).

The environment mapping (:mod:`edp.resources`, ``streaming``) picks one. Provider imports happen
inside functions, so DAG files can import this module cheaply.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol


class ControllerError(RuntimeError):
    """The job could not be started or stopped as asked (the message says why)."""


@dataclasses.dataclass(frozen=True)
class JobStatus:
    """What the controller knows about the job right now.

    :param running: the job is running or about to (queued, pending); not when it is terminating.
    :param ref: the process or run it refers to (``pid 4242`` / ``run 981``), if any.
    :param started_at: when that process or run started.
    :param detail: one human line (log file, run state, why it is not running).
    :param url: where to look (the Databricks run page, the local log file).
    """

    running: bool
    ref: str | None = None
    started_at: datetime | None = None
    detail: str = ""
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "ref": self.ref,
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "detail": self.detail,
            "url": self.url,
        }


@dataclasses.dataclass(frozen=True)
class StopOutcome:
    """Refs that were asked to stop, and those still stopping when the call returned."""

    stopped: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()


class StreamingJobController(Protocol):
    """One streaming job. ``token`` makes a start idempotent where the backend supports it.

    ``begin_stop`` returns as soon as the stop is under way: what is still stopping is in ``pending``
    (always empty locally, where stopping is quick). ``stop`` and ``restart`` wait until it is done.
    """

    kind: str

    def status(self) -> JobStatus: ...

    def start(self, *, token: str | None = None) -> JobStatus: ...

    def begin_stop(self) -> StopOutcome: ...

    def wait_stopped(self, pending: Sequence[str]) -> list[str]: ...

    def stop(self) -> StopOutcome: ...

    def restart(self, *, token: str | None = None) -> JobStatus: ...


# ---- Databricks --------------------------------------------------------------------------------
# The hook has no public call for jobs/runs/list; it is the documented Jobs API 2.2 endpoint.
LIST_RUNS_ENDPOINT = ("GET", "2.2/jobs/runs/list")
ACTIVE_STATES = frozenset({"QUEUED", "PENDING", "RUNNING", "BLOCKED", "WAITING_FOR_RETRY"})
TERMINATING = "TERMINATING"


def _run_ref(run: dict[str, Any]) -> str:
    return f"run {run['run_id']}"


def _run_state(run: dict[str, Any]) -> str:
    state = run.get("state") or {}
    parts = [state.get("life_cycle_state"), state.get("result_state")]
    text = "/".join(p for p in parts if p)
    message = state.get("state_message")
    return f"{text}: {message}" if message else text


def _started(run: dict[str, Any]) -> datetime | None:
    start_ms = run.get("start_time")
    return datetime.fromtimestamp(start_ms / 1000, tz=UTC) if start_ms else None


class DatabricksStreamingController:
    """The Databricks job ``job_name``: one active run is the running stream.

    :param hook: a ``DatabricksHook`` (the connection decides the workspace).
    :param job_name: the job's name in the workspace (unique; the hook raises on duplicates).
    :param poll_interval_s: how often a synchronous stop polls a cancelled run.
    :param stop_timeout_s: how long a synchronous stop waits for cancelled runs to terminate.
    :param sleep: sleep function (tests pass one that does not wait).
    """

    kind = "databricks"

    def __init__(
        self,
        hook: Any,
        job_name: str,
        *,
        poll_interval_s: float = 10.0,
        stop_timeout_s: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.hook = hook
        self.job_name = job_name
        self.poll_interval_s = poll_interval_s
        self.stop_timeout_s = stop_timeout_s
        self.sleep = sleep
        self._job_id: int | None = None

    @property
    def job_id(self) -> int:
        if self._job_id is None:
            job_id = self.hook.find_job_id_by_name(self.job_name)
            if job_id is None:
                raise ControllerError(f"Databricks job {self.job_name!r} does not exist; deploy it first")
            self._job_id = int(job_id)
        return self._job_id

    def _runs(self, **filters: str) -> list[dict[str, Any]]:
        response = self.hook._do_api_call(LIST_RUNS_ENDPOINT, {"job_id": self.job_id, "limit": 25, **filters})
        return list(response.get("runs") or [])

    def active_runs(self) -> list[dict[str, Any]]:
        """Runs that are queued, pending, running or terminating, newest first."""
        return self._runs(active_only="true")

    def status(self) -> JobStatus:
        active = self.active_runs()
        running = [r for r in active if (r.get("state") or {}).get("life_cycle_state") in ACTIVE_STATES]
        if running:
            run = running[0]
            extra = f" (+{len(running) - 1} more active)" if len(running) > 1 else ""
            return JobStatus(
                True, _run_ref(run), _started(run), _run_state(run) + extra, run.get("run_page_url")
            )
        if active:
            run = active[0]
            return JobStatus(False, _run_ref(run), _started(run), _run_state(run), run.get("run_page_url"))
        last = self._runs(completed_only="true", limit="1")
        if not last:
            return JobStatus(False, detail=f"job {self.job_name!r} has no runs")
        run = last[0]
        return JobStatus(
            False, _run_ref(run), _started(run), f"last run ended {_run_state(run)}", run.get("run_page_url")
        )

    def start(self, *, token: str | None = None) -> JobStatus:
        """``run-now`` unless a run is active; waits for terminating runs first (one run at a time)."""
        current = self.status()
        if current.running:
            return current
        terminating = [r["run_id"] for r in self.active_runs()]
        if left := self.wait_terminated(terminating):
            raise ControllerError(f"runs {left} of {self.job_name!r} are still terminating; not starting")
        payload: dict[str, Any] = {"job_id": self.job_id}
        if token:
            # A retried task re-sends the same token: Databricks returns the run it already started.
            payload["idempotency_token"] = token[:64]
        run_id = self.hook.run_now(payload)
        url = self.hook.get_run_page_url(run_id)
        return JobStatus(True, f"run {run_id}", datetime.now(tz=UTC), "run-now accepted", url)

    def cancel(self) -> list[int]:
        """Ask every active run to cancel; returns their ids (cancellation is asynchronous)."""
        run_ids = [int(run["run_id"]) for run in self.active_runs()]
        for run_id in run_ids:
            self.hook.cancel_run(run_id)
        return run_ids

    def wait_terminated(self, run_ids: Sequence[int]) -> list[int]:
        """Poll until every run is terminal or ``stop_timeout_s`` passes; returns those still active."""
        pending = list(run_ids)
        deadline = time.monotonic() + self.stop_timeout_s
        while pending:
            pending = [run_id for run_id in pending if not self.hook.get_run_state(run_id).is_terminal]
            if not pending or time.monotonic() >= deadline:
                break
            self.sleep(self.poll_interval_s)
        return pending

    def begin_stop(self) -> StopOutcome:
        cancelled = tuple(f"run {r}" for r in self.cancel())
        return StopOutcome(stopped=cancelled, pending=cancelled)

    def wait_stopped(self, pending: Sequence[str]) -> list[str]:
        left = self.wait_terminated([int(ref.removeprefix("run ")) for ref in pending])
        return [f"run {r}" for r in left]

    def stop(self) -> StopOutcome:
        cancelled = self.cancel()
        left = self.wait_terminated(cancelled)
        return StopOutcome(
            stopped=tuple(f"run {r}" for r in cancelled), pending=tuple(f"run {r}" for r in left)
        )

    def restart(self, *, token: str | None = None) -> JobStatus:
        outcome = self.stop()
        if outcome.pending:
            raise ControllerError(
                f"{', '.join(outcome.pending)} did not terminate in {self.stop_timeout_s:.0f}s"
            )
        return self.start(token=token)
