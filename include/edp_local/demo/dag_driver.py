"""Drive every DAG through one data interval over the Airflow REST API, one run at a time.

The runs are ordinary manual runs of the running platform, so they show up in the UI. What each DAG
needs comes from its file (``dags/``): an explicit data interval for the interval-scheduled batch DAGs,
``interval_start``/``interval_end`` conf for ``warehouse_load`` (asset-scheduled: no interval of its
own), dates and layers for ``lake_backfill``. A DAG the plan does not know yet is still run, with no
conf. ``data_freshness`` runs right after the drain, while silver's last commit is fresh.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from edp.lake.intervals import Interval, day_interval
from edp_local.runtime.airflow_api import FINISHED_RUN_STATES, AirflowApiError, AirflowClient, TaskInstance

SUCCESS, FAILED = "success", "failed"
FAILED_TASK_STATES = frozenset({"failed", "upstream_failed"})
POLL_S = 3.0
LISTED_TIMEOUT_S = 300.0
T = TypeVar("T")
API_RETRIES = 5  # SQLite locks make the API server answer 5xx now and then while the scheduler writes


@dataclasses.dataclass(frozen=True)
class DagStep:
    """One DAG run to make: the DAG, its conf, an explicit data interval if it needs one."""

    dag_id: str
    conf: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    data_interval: Interval | None = None
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.dag_id


@dataclasses.dataclass(frozen=True)
class DagRunResult:
    dag_id: str
    run_id: str
    name: str
    state: str
    seconds: float
    tasks: dict[str, int]
    url: str
    failed_tasks: tuple[str, ...] = ()
    log_hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "seconds": round(self.seconds, 1),
            "failed_tasks": list(self.failed_tasks),
        }


class DagRunFailed(RuntimeError):
    def __init__(self, result: DagRunResult, message: str) -> None:
        super().__init__(message)
        self.result = result


def demo_window(first: date, last: date, today: date) -> Interval:
    """Whole UTC days from the first event date to the last one or today, whichever is later.

    Every event (late ones 1-48 h old included) lies in it, and so does every ``ingested_at``: a gold
    build of this interval rebuilds every partition silver has, and the quality gates see every row.
    """
    return day_interval(first, max(last, today))


def demo_steps(window: Interval) -> list[DagStep]:
    """Every DAG of ``dags/`` in an order that makes sense for one data interval."""
    interval_conf = {"interval_start": window.start.isoformat(), "interval_end": window.end.isoformat()}
    backfill_conf = {
        "start_date": window.first_date.isoformat(),
        "end_date": window.last_date.isoformat(),
        "layers": ["bronze_to_silver", "silver_to_gold"],
        "silver_mode": "merge",
        "allow_drop": False,
    }
    return [
        DagStep("streaming_supervisor", {"action": "ensure"}),
        DagStep("data_freshness"),
        DagStep("platform_health"),
        DagStep("lake_compaction", data_interval=window),
        DagStep("gold_build", data_interval=window),
        DagStep("warehouse_load", interval_conf),
        DagStep("lake_catalog"),
        DagStep("monitoring_alarms"),
        DagStep("lake_vacuum"),
        DagStep("lake_backfill", backfill_conf),
        # The backfill rebuilt gold: load it again so the warehouse matches the final gold.
        DagStep("warehouse_load", interval_conf, label="warehouse_load (after lake_backfill)"),
    ]


def with_unplanned(steps: list[DagStep], listed: Collection[str]) -> list[DagStep]:
    """The planned steps plus one plain run of each listed DAG the plan does not know."""
    planned = {step.dag_id for step in steps}
    return steps + [DagStep(dag_id) for dag_id in sorted(set(listed) - planned)]


class DagDriver:
    """Triggers runs and waits for them; :class:`DagRunFailed` names the failed tasks and their logs."""

    def __init__(
        self,
        client: AirflowClient,
        *,
        logs_dir: Path,
        run_prefix: str,
        timeout_s: float,
        poll_s: float = POLL_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.logs_dir = logs_dir
        self.run_prefix = run_prefix
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.clock = clock
        self.sleep = sleep
        self._count = 0

    def _retrying(self, call: Callable[[], T]) -> T:
        """``call()``, again after a pause while the API server fails (5xx) or does not answer."""
        for attempt in range(1, API_RETRIES + 1):
            try:
                return call()
            except AirflowApiError as exc:
                if (exc.status and exc.status < 500) or attempt == API_RETRIES:
                    raise
                self.sleep(self.poll_s)
        raise AssertionError("unreachable")

    def listed_dags(self, dag_ids: Collection[str], timeout_s: float = LISTED_TIMEOUT_S) -> set[str]:
        """Every DAG id the API lists, once it lists all of ``dag_ids`` (raises naming the missing ones)."""
        self.client.wait_for_dags(dag_ids, timeout_s=timeout_s, poll_s=self.poll_s)
        return {dag.dag_id for dag in self._retrying(self.client.list_dags)}

    def run(self, step: DagStep) -> DagRunResult:
        self._count += 1
        run_id = f"{self.run_prefix}_{self._count:02d}"
        self._retrying(lambda: self.client.unpause(step.dag_id))
        started = self.clock()
        self._trigger(step, run_id)
        state = self._wait(step.dag_id, run_id, started)
        result = self._result(step, run_id, state, self.clock() - started)
        if state != SUCCESS:
            raise DagRunFailed(result, self._explain(result))
        return result

    def _trigger(self, step: DagStep, run_id: str) -> None:
        """Trigger once: after a failed answer, look for the run before triggering again."""
        interval = step.data_interval
        for attempt in range(1, API_RETRIES + 1):
            try:
                self.client.trigger_dag_run(
                    step.dag_id,
                    run_id=run_id,
                    logical_date=datetime.now(tz=UTC),
                    data_interval_start=interval.start if interval else None,
                    data_interval_end=interval.end if interval else None,
                    conf=dict(step.conf),
                    note=f"make demo: {step.name}",
                )
                return
            except AirflowApiError as exc:
                if (exc.status and exc.status < 500) or attempt == API_RETRIES:
                    raise
                self.sleep(self.poll_s)
                if self._exists(step.dag_id, run_id):
                    return

    def _exists(self, dag_id: str, run_id: str) -> bool:
        try:
            self.client.get_dag_run(dag_id, run_id)
        except AirflowApiError:
            return False
        return True

    def _wait(self, dag_id: str, run_id: str, started: float) -> str:
        while True:
            state = self._retrying(lambda: self.client.dag_run_state(dag_id, run_id))
            if state in FINISHED_RUN_STATES or self.clock() - started > self.timeout_s:
                return state
            self.sleep(self.poll_s)

    def _result(self, step: DagStep, run_id: str, state: str, seconds: float) -> DagRunResult:
        instances = self._retrying(lambda: self.client.list_task_instances(step.dag_id, run_id))
        failed = [ti for ti in instances if ti.state in FAILED_TASK_STATES]
        return DagRunResult(
            dag_id=step.dag_id,
            run_id=run_id,
            name=step.name,
            state=state,
            seconds=seconds,
            tasks=dict(Counter(str(ti.state) for ti in instances)),
            url=f"{self.client.base_url}/dags/{step.dag_id}/runs/{run_id}",
            failed_tasks=tuple(f"{ti.task_id} ({ti.state})" for ti in failed),
            log_hint="; ".join(str(self.log_path(ti)) for ti in failed if ti.state == FAILED),
        )

    def log_path(self, ti: TaskInstance) -> Path:
        """Where the local Airflow writes a task's log (its default ``log_filename_template``)."""
        path = self.logs_dir / f"dag_id={ti.dag_id}" / f"run_id={ti.run_id}" / f"task_id={ti.task_id}"
        if ti.map_index >= 0:
            path = path / f"map_index={ti.map_index}"
        return path / f"attempt={max(ti.try_number, 1)}.log"

    def _explain(self, result: DagRunResult) -> str:
        if result.state in FINISHED_RUN_STATES:
            what = f"ended {result.state}"
        else:
            what = f"is still {result.state} after {self.timeout_s:.0f}s"
        tasks = ", ".join(result.failed_tasks) or "no failed task instance"
        hint = f"; logs: {result.log_hint}" if result.log_hint else ""
        return f"DAG run {result.dag_id} ({result.name}) {what}: {tasks}{hint}; UI: {result.url}"
