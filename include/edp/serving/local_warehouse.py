"""The local warehouse: one DuckDB file standing in for Redshift, fed by the same SQL files.

:meth:`LocalWarehouse.run_script` takes a rendered Redshift script, splits and transpiles it
(:mod:`edp.serving.transpile`) and runs every statement inside ONE transaction: all of it or nothing,
like the BatchExecuteStatement the AWS path sends. DuckDB lets one process write a database file at a
time, so opening waits (bounded) while another process holds it, instead of failing a task that merely
overlapped an ad hoc query.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from edp.serving.transpile import script_to_duckdb

log = logging.getLogger(__name__)
LOCK_WAIT_S = 120.0
_LOCK_MESSAGES = ("Could not set lock", "Conflicting lock")


@dataclasses.dataclass(frozen=True)
class StatementResult:
    sql: str
    rows: int | None

    @property
    def summary(self) -> str:
        head = " ".join(self.sql.split())[:100]
        return head if self.rows is None else f"{head} -> {self.rows} rows"


class LocalWarehouse:
    """The DuckDB file at ``path`` (created on first write)."""

    def __init__(self, path: Path | str, *, lock_wait_s: float = LOCK_WAIT_S) -> None:
        self.path = Path(path)
        self.lock_wait_s = lock_wait_s

    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if read_only and not self.path.exists():
            raise FileNotFoundError(f"no local warehouse at {self.path}; the warehouse_load DAG creates it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_wait_s
        delay = 0.2
        while True:
            try:
                connection = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if not any(m in str(exc) for m in _LOCK_MESSAGES) or time.monotonic() > deadline:
                    raise
                log.info("warehouse file is in use by another process; retrying in %.1fs", delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        try:
            connection.execute("SET TimeZone = 'UTC'")
            yield connection
        finally:
            connection.close()

    def run_script(self, rendered_sql: str) -> list[StatementResult]:
        """Run a rendered Redshift script in one transaction; raises (after rolling back) on any error."""
        statements = script_to_duckdb(rendered_sql)
        results: list[StatementResult] = []
        with self.connect() as connection:
            connection.execute("BEGIN TRANSACTION")
            try:
                for statement in statements:
                    results.append(StatementResult(statement, _row_count(connection.execute(statement))))
            except Exception:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        return results

    def query(self, rendered_sql: str) -> list[dict[str, Any]]:
        """Rows of one rendered Redshift query, as dicts (read-only connection)."""
        (statement,) = script_to_duckdb(rendered_sql)
        with self.connect(read_only=True) as connection:
            cursor = connection.execute(statement)
            names = [d[0] for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _row_count(cursor: duckdb.DuckDBPyConnection) -> int | None:
    """DuckDB answers DML with one ``Count`` row; DDL with none."""
    description = cursor.description or []
    if len(description) == 1 and description[0][0] == "Count":
        row = cursor.fetchone()
        return None if row is None else int(row[0])
    return None
