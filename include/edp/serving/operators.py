"""The serving layer's Airflow tasks: one factory per step, asking the environment's resource for the task.

| step | ``aws`` | ``local`` |
| --- | --- | --- |
| warehouse SQL file | :class:`edp.serving.redshift.RedshiftScriptOperator` (``RedshiftDataOperator``, deferrable) | :class:`LocalWarehouseSqlOperator` (DuckDB file) |
| Athena DDL file | ``AthenaOperator`` (deferrable) | :class:`LocalAthenaSqlOperator` (local catalog) |
| BI refresh | ``QuickSightCreateIngestionOperator`` per dataset (deferrable wait for COMPLETED/FAILED) | :class:`edp.serving.dashboard.operator.DashboardRefreshOperator` |

The resources (:mod:`edp.serving.warehouse`, :mod:`edp.serving.lake_query`, :mod:`edp.serving.bi`,
chosen by :mod:`edp.resources`) build them. Both sides of a step take the same ``*.sql`` file (rendered
by Airflow with the DAG's Jinja environment) and the same task id, so the DAG, its lineage and its logs
read the same in both environments. Provider imports happen only when an AWS task is built; this
module itself imports ``airflow.sdk`` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from edp.config import PlatformConfig

if TYPE_CHECKING:
    from airflow.sdk import Context


class LocalWarehouseSqlOperator(BaseOperator):
    """Run one Redshift SQL file against the local DuckDB warehouse, in one transaction.

    :param sql: the file (``redshift/merge_gold.sql``), rendered by Airflow, then transpiled to DuckDB.
    """

    template_fields: Sequence[str] = ("sql",)
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color = "#e8f0fe"

    def __init__(self, *, sql: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sql = sql

    def execute(self, context: Context) -> dict[str, Any]:
        from edp.orchestration.runtime import runtime_config  # noqa: PLC0415 - task-time only
        from edp.serving.local_warehouse import LocalWarehouse  # noqa: PLC0415
        from edp.serving.names import local_warehouse_path  # noqa: PLC0415

        path = local_warehouse_path(runtime_config())
        results = LocalWarehouse(path).run_script(self.sql)
        for result in results:
            self.log.info("%s", result.summary)
        changed = sum(r.rows or 0 for r in results)
        self.log.info("%d statements committed in one transaction to %s", len(results), path)
        return {"warehouse": str(path), "statements": len(results), "rows_changed": changed}


class LocalAthenaSqlOperator(BaseOperator):
    """Apply one Athena DDL file to the local lake catalog (Glue's stand-in).

    :param query: the file (``athena/create_delta_table.sql``), rendered by Airflow.
    """

    template_fields: Sequence[str] = ("query",)
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"query": "sql"}
    ui_color = "#e8f0fe"

    def __init__(self, *, query: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.query = query

    def execute(self, context: Context) -> list[str]:
        from edp.orchestration.runtime import runtime_config  # noqa: PLC0415
        from edp.serving.lake_catalog import LocalLakeCatalog  # noqa: PLC0415
        from edp.serving.names import lake_catalog_path  # noqa: PLC0415

        changes = LocalLakeCatalog(lake_catalog_path(runtime_config())).apply_ddl(self.query)
        for change in changes:
            self.log.info("%s", change)
        return changes


def warehouse_sql_task(task_id: str, sql: str, config: PlatformConfig, **kwargs: Any) -> BaseOperator:
    """Run ``include/sql/<sql>`` on the environment's warehouse (Redshift Serverless or the local DuckDB)."""
    from edp.resources import resources  # noqa: PLC0415 - the mapping imports the warehouse lazily

    return resources(config).warehouse.sql_task(task_id, sql, **kwargs)


def athena_ddl_task(
    task_id: str, query: str, config: PlatformConfig, *, database: str | None = None, **kwargs: Any
) -> BaseOperator:
    """Run one Athena DDL file on the environment's lake query engine (Athena or the local catalog).

    :param database: the Athena database the statement runs in (``default`` for ``CREATE DATABASE``).
    """
    from edp.resources import resources  # noqa: PLC0415

    return resources(config).lake_query.ddl_task(task_id, query, database=database, **kwargs)


def bi_refresh_task(
    task_id: str, config: PlatformConfig, *, dashboard_params: Mapping[str, Any] | None = None, **kwargs: Any
) -> Any:
    """Refresh what dashboards read: SPICE ingestions of every configured dataset, or the local dashboard."""
    from edp.resources import resources  # noqa: PLC0415

    return resources(config).bi.refresh_task(task_id, dashboard_params=dashboard_params, **kwargs)
