"""Redshift's documented restrictions, checked on the rendered SQL files before they reach Redshift.

The local twin runs the same files transpiled to DuckDB, which accepts more than Redshift does (a
``MERGE`` target alias, for one), so a file can pass every local test and still fail on Redshift.
The script is split as ``RedshiftScriptOperator`` splits it into its batch, and each statement is
parsed with the dialect the transpiler reads.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from edp.serving.transpile import READ_DIALECT, split_statements

# The Data API's BatchExecuteStatement takes at most 40 SQL statements per call.
MAX_BATCH_STATEMENTS = 40


def redshift_violations(script: str, *, batch: bool = True) -> list[str]:
    """Each way ``script`` breaks Redshift's grammar or limits, as one sentence; empty when it conforms."""
    statements = split_statements(script)
    problems: list[str] = []
    if batch and len(statements) > MAX_BATCH_STATEMENTS:
        problems.append(
            f"{len(statements)} statements in one BatchExecuteStatement; the Data API takes at most "
            f"{MAX_BATCH_STATEMENTS}"
        )
    for statement in statements:
        tree = sqlglot.parse_one(statement, read=READ_DIALECT)
        for merge in tree.find_all(exp.Merge):
            target = merge.this
            if isinstance(target, exp.Table) and target.alias:
                problems.append(
                    f"MERGE INTO {target.sql('redshift')}: Redshift allows an alias on the MERGE source "
                    "only, not on the target"
                )
    return problems
