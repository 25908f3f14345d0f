"""The serving layer's Airflow tasks: one factory per step, provider operators on AWS, local twins locally.

| step | ``aws`` | ``local`` |
| --- | --- | --- |
| warehouse SQL file | :class:`edp.serving.redshift.RedshiftScriptOperator` (``RedshiftDataOperator``, deferrable) | :class:`LocalWarehouseSqlOperator` (DuckDB file) |
| Athena DDL file | ``AthenaOperator`` (deferrable) | :class:`LocalAthenaSqlOperator` (local catalog) |
| BI refresh | ``QuickSightCreateIngestionOperator`` per dataset (deferrable wait for COMPLETED/FAILED) | :class:`edp.serving.dashboard.operator.DashboardRefreshOperator` |

Both sides of a step take the same ``*.sql`` file (rendered by Airflow with the DAG's Jinja environment)
and the same task id, so the DAG, its lineage and its logs read the same in both environments. Provider
imports happen only when an AWS task is built; this module itself imports ``airflow.sdk`` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from edp.config import PlatformConfig

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFERRABLE_POLL_S = 15
ATHENA_RESULTS_PREFIX = "athena-results"
# QuickSight ingestion ids: [A-Za-z0-9_-]{1,128}; one per run, dataset and try (a retry needs a new id).
SPICE_INGESTION_ID = "{{ run_id | safe_id(100) }}-t{{ ti.try_number }}"


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
    """Run ``include/sql/<sql>`` on the warehouse: Redshift Serverless (Data API) or the local DuckDB."""
    if config.is_local:
        return LocalWarehouseSqlOperator(task_id=task_id, sql=sql, **kwargs)
    from edp.serving.redshift import RedshiftScriptOperator  # noqa: PLC0415 - aws only

    return RedshiftScriptOperator(
        task_id=task_id,
        sql=sql,
        workgroup_name=config.redshift.workgroup,
        database=config.redshift.database,
        statement_name=task_id,
        aws_conn_id=config.connections.aws,
        region_name=config.stream.region,
        deferrable=True,
        poll_interval=DEFERRABLE_POLL_S,
        **kwargs,
    )


def athena_ddl_task(
    task_id: str, query: str, config: PlatformConfig, *, database: str | None = None, **kwargs: Any
) -> BaseOperator:
    """Run one Athena DDL file: ``AthenaOperator`` on AWS, the local catalog locally.

    :param database: the Athena database the statement runs in (``default`` for ``CREATE DATABASE``).
    """
    if config.is_local:
        return LocalAthenaSqlOperator(task_id=task_id, query=query, **kwargs)
    from airflow.providers.amazon.aws.operators.athena import AthenaOperator  # noqa: PLC0415 - aws only

    return AthenaOperator(
        task_id=task_id,
        query=query,
        database=database or config.athena.database,
        workgroup=config.athena.workgroup,
        output_location=f"s3://{config.artifacts_bucket}/{ATHENA_RESULTS_PREFIX}/",
        aws_conn_id=config.connections.aws,
        region_name=config.stream.region,
        deferrable=True,
        sleep_time=DEFERRABLE_POLL_S,
        **kwargs,
    )


def bi_refresh_task(
    task_id: str, config: PlatformConfig, *, dashboard_params: Mapping[str, Any] | None = None, **kwargs: Any
) -> Any:
    """Refresh what dashboards read: SPICE ingestions of every configured dataset, or the local dashboard.

    On AWS one mapped ``QuickSightCreateIngestionOperator`` per dataset starts a FULL_REFRESH ingestion
    (id from the run id and try number) and waits in the triggerer until it is COMPLETED (the task
    succeeds) or FAILED/CANCELLED (the task fails).
    """
    if config.is_local:
        from edp.serving.dashboard.operator import DashboardRefreshOperator  # noqa: PLC0415

        return DashboardRefreshOperator(task_id=task_id, **dict(dashboard_params or {}), **kwargs)
    from airflow.providers.amazon.aws.operators.quicksight import (  # noqa: PLC0415 - aws only
        QuickSightCreateIngestionOperator,
    )

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
