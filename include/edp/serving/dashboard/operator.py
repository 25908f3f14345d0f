"""``DashboardRefreshOperator``: the local BI refresh, the step that is a SPICE ingestion on AWS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class DashboardRefreshOperator(BaseOperator):
    """Rebuild the local dashboard (data JSON and static page) from the local warehouse and health files.

    :param days: how many days (with data) of KPIs the page shows (templated).
    """

    template_fields: Sequence[str] = ("days",)
    ui_color = "#fef7e0"

    def __init__(self, *, days: int | str = 30, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.days = days

    def execute(self, context: Context) -> dict[str, Any]:
        from edp.orchestration.runtime import runtime_config  # noqa: PLC0415
        from edp.serving.dashboard.data import build_dashboard_data  # noqa: PLC0415 - task-time only
        from edp.serving.dashboard.site import write_site  # noqa: PLC0415
        from edp.serving.names import dashboard_dir, dashboard_url  # noqa: PLC0415

        config = runtime_config()
        data = build_dashboard_data(config, days=int(self.days))
        if data["warehouse"]["error"]:
            raise RuntimeError(f"dashboard queries failed: {data['warehouse']['error']}")
        index = write_site(dashboard_dir(config), data)
        self.log.info("dashboard rebuilt: %s (served at %s)", index, dashboard_url(config))
        return {"index": str(index), "url": dashboard_url(config), "kpi_days": len(data["kpi_daily"])}
