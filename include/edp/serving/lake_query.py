"""The lake-query twins: Athena with the Glue catalog on AWS, DuckDB over delta-rs with a local catalog.

The environment mapping (:mod:`edp.resources`, ``lake_query``) picks one; both apply the same Athena DDL
file with the same task id (:meth:`LakeQuery.ddl_task`). Standard library only at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from edp.config import PlatformConfig

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator

DEFERRABLE_POLL_S = 15
ATHENA_RESULTS_PREFIX = "athena-results"


class LakeQuery(Protocol):
    def ddl_task(
        self, task_id: str, query: str, *, database: str | None = None, **kwargs: Any
    ) -> BaseOperator:
        """A task applying the Athena DDL file ``query`` (relative to ``include/sql``)."""
        ...


class DuckDbLakeQuery:
    """The local catalog (``lake_catalog.json``), queried with DuckDB over delta-rs (``make query``)."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def ddl_task(
        self, task_id: str, query: str, *, database: str | None = None, **kwargs: Any
    ) -> BaseOperator:
        from edp.serving.operators import LocalAthenaSqlOperator  # noqa: PLC0415

        return LocalAthenaSqlOperator(task_id=task_id, query=query, **kwargs)


class AthenaLakeQuery:
    """Athena workgroup ``athena.workgroup``, results under ``s3://<artifacts>/athena-results/``."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def ddl_task(
        self, task_id: str, query: str, *, database: str | None = None, **kwargs: Any
    ) -> BaseOperator:
        from airflow.providers.amazon.aws.operators.athena import AthenaOperator  # noqa: PLC0415 - aws only

        config = self.config
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
