"""The warehouse twins: Redshift Serverless on AWS, a DuckDB file locally, running the same SQL files.

The environment mapping (:mod:`edp.resources`, ``warehouse``) picks one. Both name their tables the
same way for lineage (:meth:`Warehouse.table_uri`) and turn one ``include/sql/redshift/*.sql`` file into
a task with the same task id (:meth:`Warehouse.sql_task`). Provider imports happen only when an AWS
task is built; this module itself is standard library only, so DAG files import it cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from edp.config import PlatformConfig
from edp.serving.names import local_warehouse_path, redshift_host

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator

DEFERRABLE_POLL_S = 15


class Warehouse(Protocol):
    def table_uri(self, table: str) -> str:
        """The lineage URI of a warehouse table (``redshift://...`` or ``duckdb://...``)."""
        ...

    def sql_task(self, task_id: str, sql: str, **kwargs: Any) -> BaseOperator:
        """A task running the SQL file ``sql`` (relative to ``include/sql``) in one transaction."""
        ...


class DuckDbWarehouse:
    """``<state dir>/warehouse/warehouse.duckdb``, the Redshift SQL transpiled by sqlglot."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        self.path = local_warehouse_path(config)

    def table_uri(self, table: str) -> str:
        return f"duckdb://{self.path.resolve()}/{self.config.redshift.schema}/{table}"

    def sql_task(self, task_id: str, sql: str, **kwargs: Any) -> BaseOperator:
        from edp.serving.operators import LocalWarehouseSqlOperator  # noqa: PLC0415

        return LocalWarehouseSqlOperator(task_id=task_id, sql=sql, **kwargs)


class RedshiftWarehouse:
    """The Redshift Serverless workgroup ``redshift.workgroup``, through the Data API (deferrable)."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def table_uri(self, table: str) -> str:
        redshift = self.config.redshift
        return f"redshift://{redshift_host(self.config)}:5439/{redshift.database}/{redshift.schema}/{table}"

    def sql_task(self, task_id: str, sql: str, **kwargs: Any) -> BaseOperator:
        from edp.serving.redshift import RedshiftScriptOperator  # noqa: PLC0415 - aws only

        config = self.config
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
