"""``RedshiftScriptOperator``: a multi-statement SQL file as ONE Redshift transaction, via the Data API.

``RedshiftDataOperator`` sends a string as one ``ExecuteStatement`` (one statement) and a list as one
``BatchExecuteStatement``, which runs the statements in order as a single transaction and rolls all of
them back if one fails. Our SQL files hold several statements (stage: DELETE + COPY per table; merge:
DELETE + INSERT per fact, MERGE per dimension), so after Airflow renders the file this operator splits
it (sqlglot's tokenizer, verbatim text) and hands the list to the provider operator, keeping everything
else it does: deferral to the triggerer while Redshift works, durable statement ids across worker
restarts, cancellation on kill. Imported only when an AWS task is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.redshift_data import RedshiftDataOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class RedshiftScriptOperator(RedshiftDataOperator):
    """:class:`RedshiftDataOperator` whose rendered ``sql`` file runs as one batch (one transaction)."""

    def execute(self, context: Context) -> Any:
        from edp.serving.transpile import split_statements  # noqa: PLC0415 - sqlglot at run time only

        if isinstance(self.sql, str):
            self.sql = split_statements(self.sql)
        if not self.sql:
            raise ValueError(f"{self.task_id}: the rendered SQL file has no statements")
        self.log.info("Sending %d statements as one BatchExecuteStatement (one transaction)", len(self.sql))
        return super().execute(context)
