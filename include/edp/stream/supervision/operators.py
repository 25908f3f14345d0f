"""``StreamingControlOperator``: runs a supervision step that may stop the job, deferring while it stops.

Locally a stop takes seconds and the step runs synchronously. On Databricks a cancelled streaming run
can take minutes to reach a terminal state, and a new run cannot start before it does (one run at a
time), so the operator defers on the Databricks provider's ``DatabricksExecutionTrigger`` (which polls
a run until it is terminal) and starts the new run when the trigger fires. The worker slot is free
meanwhile.

Why not ``DatabricksRunNowOperator(deferrable=True)`` for the start itself: its deferral waits for the
run to *terminate*, and a healthy streaming run never does, so the task would sit deferred for the
stream's lifetime and block the next supervision run (``max_active_runs=1``). The start is a plain
``run-now`` (with an idempotency token, so a retried task does not start a second run).

This module imports only ``airflow.sdk`` at the top: DAG files construct the operator at parse time,
and the provider (about a second to import) loads when a task runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from edp.stream.supervision.supervise import Supervision

STEPS = ("apply_action", "recover")
TRIGGER_POLL_S = 15


def _supervision(log: Any) -> Supervision:
    from edp.orchestration.runtime import runtime_config  # noqa: PLC0415 - task-time only
    from edp.stream.supervision.supervise import build  # noqa: PLC0415

    return build(runtime_config(), log=log.info)


class StreamingControlOperator(BaseOperator):
    """Run the supervision step ``step`` (``apply_action`` or ``recover``); defer while a run stops.

    :param step: which step of :mod:`edp.stream.supervision.supervise` to run.
    :param verdict_task_id: for ``recover``: the task whose return value is the health verdict.
    :param stop_timeout: how long to wait for a cancelled Databricks run to terminate.
    """

    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        step: str,
        verdict_task_id: str | None = None,
        stop_timeout: timedelta = timedelta(minutes=30),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if step not in STEPS:
            raise ValueError(f"step must be one of {STEPS}, got {step!r}")
        if step == "recover" and not verdict_task_id:
            raise ValueError("the recover step needs verdict_task_id")
        self.step = step
        self.verdict_task_id = verdict_task_id
        self.stop_timeout = stop_timeout

    def run_step(self, sup: Supervision, context: Context) -> dict[str, Any]:
        from edp.stream.supervision import supervise  # noqa: PLC0415

        if self.step == "apply_action":
            dag_run = context["dag_run"]
            return supervise.apply_action(
                sup,
                context["params"]["action"],
                run_id=str(context["run_id"]),
                manual=str(getattr(dag_run, "run_type", "")).lower().endswith("manual"),
            )
        verdict = context["ti"].xcom_pull(task_ids=self.verdict_task_id)
        if verdict is None:
            raise ValueError(f"no verdict from task {self.verdict_task_id!r}")
        return supervise.recover(sup, verdict)

    def execute(self, context: Context) -> dict[str, Any]:
        sup = _supervision(self.log)
        result = self.run_step(sup, context)
        pending = result.get("pending_stop") or []
        if pending:
            self._defer_until_stopped(sup, pending[0], result)
        return result

    def _defer_until_stopped(self, sup: Supervision, ref: str, result: Mapping[str, Any]) -> None:
        from airflow.providers.databricks.triggers.databricks import (  # noqa: PLC0415
            DatabricksExecutionTrigger,
        )

        from edp.orchestration.runtime import runtime_config  # noqa: PLC0415

        run_id = int(ref.removeprefix("run "))
        self.log.info("waiting for %s to terminate before going on (deferred)", ref)
        self.defer(
            trigger=DatabricksExecutionTrigger(
                run_id=run_id,
                databricks_conn_id=runtime_config().connections.databricks,
                polling_period_seconds=TRIGGER_POLL_S,
            ),
            method_name="execute_complete",
            kwargs={"result": dict(result)},
            timeout=self.stop_timeout,
        )

    def execute_complete(
        self,
        context: Context,
        event: Mapping[str, Any] | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The cancelled run is terminal (whatever its result state): finish the step."""
        from edp.stream.supervision.supervise import complete_pending_start  # noqa: PLC0415

        if result is None:
            raise ValueError("resumed without the step's result")
        self.log.info("cancelled run ended: %s", (event or {}).get("run_state"))
        return complete_pending_start(_supervision(self.log), result)
