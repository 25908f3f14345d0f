"""The BI twins: QuickSight SPICE datasets on AWS, the static KPI dashboard served by Airflow locally.

The environment mapping (:mod:`edp.resources`, ``bi``) picks one. Each names its Asset URI, builds the
``refresh_bi`` task, and says which links the Airflow UI shows. Standard library only at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from edp.config import PlatformConfig
from edp.serving.names import DASHBOARD_URL_PREFIX, dashboard_url

DEFERRABLE_POLL_S = 15
# QuickSight ingestion ids: [A-Za-z0-9_-]{1,128}; one per run, dataset and try (a retry needs a new id).
SPICE_INGESTION_ID = "{{ run_id | safe_id(100) }}-t{{ ti.try_number }}"


class Bi(Protocol):
    def asset_uri(self) -> str: ...

    def refresh_task(
        self, task_id: str, *, dashboard_params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        """The task (or mapped tasks) refreshing what dashboards read."""
        ...

    def ui_links(self) -> list[dict[str, Any]]:
        """``external_views`` of the Airflow plugin: links in the Airflow UI's navigation."""
        ...


class LocalDashboard:
    """The static dashboard (``<state dir>/dashboard/``), served at ``/edp-dashboard/`` by the plugin."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def asset_uri(self) -> str:
        return dashboard_url(self.config)

    def refresh_task(
        self, task_id: str, *, dashboard_params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        from edp.serving.dashboard.operator import DashboardRefreshOperator  # noqa: PLC0415

        return DashboardRefreshOperator(task_id=task_id, **dict(dashboard_params or {}), **kwargs)

    def ui_links(self) -> list[dict[str, Any]]:
        return [
            {
                "name": "KPI dashboard",
                "href": f"{DASHBOARD_URL_PREFIX.lstrip('/')}/",
                "destination": "nav",
                "category": "browse",
                "url_route": "edp-dashboard",
            }
        ]


class QuickSight:
    """The SPICE datasets ``quicksight.dataset_ids``; the dashboards themselves live in QuickSight."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def asset_uri(self) -> str:
        config = self.config
        account = config.quicksight.aws_account_id or config.aws_account_id
        return f"x-quicksight://{config.stream.region}/{account}/datasets"

    def refresh_task(
        self, task_id: str, *, dashboard_params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        """One mapped ``QuickSightCreateIngestionOperator`` per dataset: a FULL_REFRESH ingestion (id from
        the run id and try number), waited for in the triggerer until COMPLETED (success) or FAILED."""
        from airflow.providers.amazon.aws.operators.quicksight import (  # noqa: PLC0415 - aws only
            QuickSightCreateIngestionOperator,
        )

        config = self.config
        return QuickSightCreateIngestionOperator.partial(
            task_id=task_id,
            ingestion_id=SPICE_INGESTION_ID,
            ingestion_type="FULL_REFRESH",
            deferrable=True,
            waiter_delay=DEFERRABLE_POLL_S * 2,
            aws_conn_id=config.connections.aws,
            region_name=config.stream.region,
            **kwargs,
        ).expand(data_set_id=list(config.quicksight.dataset_ids))

    def ui_links(self) -> list[dict[str, Any]]:
        return []
