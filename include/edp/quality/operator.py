"""``QualityGateOperator``: the project's own Airflow operator for a GX quality gate.

Why not the GX Airflow provider: ``airflow-provider-great-expectations`` 1.0 cannot be installed next to
Airflow 3.3, and a gate here needs more than "run a checkpoint": frames read from the pinned Delta
versions of the run's load plan, the reconciliation with silver, a durable record for the dashboard, and
the platform's ``quality_gate_failed`` alert naming the failing expectations. The operator is thin: it
pulls the plan from XCom and calls :func:`edp.quality.gate.run_gate` (GX loads at execute time only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class QualityGateOperator(BaseOperator):
    """Validate one layer for the run's load plan; fail (no retries, one alert) if any expectation fails.

    :param layer: ``bronze``, ``silver`` or ``gold`` (gold includes the reconciliation with silver).
    :param plan_task_id: the task whose return value is the run's :class:`edp.serving.plan.LoadPlan`.
    :param min_bronze_rows: the bronze volume floor for the interval (templated).
    """

    template_fields: Sequence[str] = ("min_bronze_rows",)
    ui_color = "#e6f4ea"

    def __init__(
        self, *, layer: str, plan_task_id: str = "plan_load", min_bronze_rows: int | str = 1, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.layer = layer
        self.plan_task_id = plan_task_id
        self.min_bronze_rows = min_bronze_rows

    def execute(self, context: Context) -> dict[str, Any]:
        from edp.lake.reader import storage_options  # noqa: PLC0415
        from edp.orchestration.runtime import runtime_config  # noqa: PLC0415 - task-time only
        from edp.quality.gate import run_gate  # noqa: PLC0415
        from edp.serving.plan import LoadPlan  # noqa: PLC0415

        config = runtime_config()
        plan = LoadPlan.from_dict(context["ti"].xcom_pull(task_ids=self.plan_task_id))
        ti = context["ti"]
        run = {
            "dag_id": ti.dag_id,
            "task_id": ti.task_id,
            "run_id": context.get("run_id"),
            "try_number": ti.try_number,
        }
        record = run_gate(
            self.layer,
            plan,
            config,
            options=storage_options(config),
            min_bronze_rows=int(self.min_bronze_rows),
            run=run,
        )
        for suite in record["suites"]:
            self.log.info(
                "%s: passed %d expectations on %d rows", suite["suite"], suite["evaluated"], suite["rows"]
            )
        self.log.info("record: %s; Data Docs: %s", record["record"], record["data_docs_url"])
        return {"layer": record["layer"], "success": record["success"], "record": record["record"]}
