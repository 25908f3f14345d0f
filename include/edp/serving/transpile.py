"""Run Redshift SQL files on DuckDB: split a rendered file into statements, transpile each with sqlglot.

The SQL files under ``include/sql/redshift/`` are written for Redshift and rendered by Airflow (Jinja).
Locally the same rendered text goes through :func:`to_duckdb`, which parses it with sqlglot's Redshift
dialect, rewrites the few Redshift-only constructs on the syntax tree, and generates DuckDB SQL:

* ``DISTSTYLE``/``DISTKEY``/``SORTKEY`` table properties and ``ENCODE`` column constraints are dropped:
  they tune Redshift's storage and have no DuckDB meaning (they never change query results);
* ``COPY t [(cols)] FROM '<prefix>' ... FORMAT AS PARQUET`` becomes
  ``INSERT INTO t [(cols)] SELECT * FROM read_parquet(['<prefix>/*.parquet'])``: locally the gold
  export is Parquet files on disk where Redshift reads them from S3; like COPY, columns match by position;
* everything else is sqlglot's ordinary Redshift -> DuckDB translation, with unsupported constructs
  raising instead of being silently dropped.

Transaction control is the runner's job (one transaction per file), so files must not contain it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel
from sqlglot.tokens import TokenType

READ_DIALECT = "redshift"
WRITE_DIALECT = "duckdb"
STORAGE_PROPERTIES = (exp.DistKeyProperty, exp.DistStyleProperty, exp.SortKeyProperty)
TRANSACTION_STATEMENTS = (exp.Transaction, exp.Commit, exp.Rollback)


class TranspileError(ValueError):
    """A statement cannot run locally as written."""


def split_statements(sql: str, dialect: str = READ_DIALECT) -> list[str]:
    """The statements of a script, verbatim (comments inside kept), without their semicolons.

    Splitting uses sqlglot's tokenizer, so semicolons inside strings, quoted identifiers and comments
    do not split; segments holding only comments or whitespace are dropped.
    """
    tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    statements: list[str] = []
    first: int | None = None
    last = 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if first is not None:
                statements.append(sql[first : last + 1])
            first = None
            continue
        if first is None:
            first = token.start
        last = token.end
    if first is not None:
        statements.append(sql[first : last + 1])
    return statements


def local_parquet_glob(location: str) -> str:
    """Map a COPY source to a local glob: a directory or key prefix reads every ``*.parquet`` below it."""
    parts = urlsplit(location)
    if parts.scheme not in ("", "file"):
        raise TranspileError(
            f"COPY source {location!r}: the local warehouse reads exports from local files only "
            f"(scheme {parts.scheme!r}); check that the load plan was built with PLATFORM_ENV=local"
        )
    path = Path(parts.path if parts.scheme == "file" else location)
    if not path.is_absolute():
        raise TranspileError(f"COPY source {location!r} must be an absolute path locally")
    if location.endswith("/") or path.is_dir():
        return str(path / "*.parquet")
    return str(path)


def _copy_format(copy: exp.Copy) -> str | None:
    for param in copy.args.get("params") or []:
        if param.this.name.upper() == "FORMAT":
            value = param.args.get("expression")
            return value.name.upper() if value is not None else None
    return None


def copy_to_insert(copy: exp.Copy) -> exp.Insert:
    """``COPY t [(cols)] FROM 'a', 'b' FORMAT AS PARQUET`` -> ``INSERT INTO t [(cols)] SELECT * FROM read_parquet([...])``."""
    if not copy.args.get("kind"):
        raise TranspileError("COPY ... TO (unload) has no local equivalent; use UNLOAD on AWS only")
    file_format = _copy_format(copy)
    if file_format != "PARQUET":
        raise TranspileError(f"local COPY supports FORMAT AS PARQUET only, got {file_format or 'no format'}")
    globs = [local_parquet_glob(source.name) for source in copy.args.get("files") or []]
    if not globs:
        raise TranspileError("COPY without a source")
    target = copy.this
    reader = exp.Anonymous(
        this="read_parquet", expressions=[exp.Array(expressions=[exp.Literal.string(g) for g in globs])]
    )
    select = exp.select(exp.Star()).from_(exp.Table(this=reader))
    return exp.Insert(this=target.copy(), expression=select)


def _drop_storage_options(tree: exp.Expression) -> exp.Expression:
    for node in list(tree.find_all(*STORAGE_PROPERTIES, exp.EncodeColumnConstraint)):
        parent = node.parent
        node.pop()
        # an ENCODE constraint leaves an empty ColumnConstraint wrapper behind
        if isinstance(parent, exp.ColumnConstraint) and parent.args.get("kind") is None:
            parent.pop()
    properties = tree.args.get("properties") if isinstance(tree, exp.Create) else None
    if isinstance(properties, exp.Properties) and not properties.expressions:
        properties.pop()
    return tree


def rewrite(tree: exp.Expression) -> exp.Expression:
    """The syntax-tree rewrites that make one parsed Redshift statement runnable on DuckDB."""
    if isinstance(tree, TRANSACTION_STATEMENTS):
        raise TranspileError("SQL files must not control transactions; the runner wraps each file in one")
    if isinstance(tree, exp.Command):
        raise TranspileError(f"statement not understood by the Redshift parser: {tree.sql()[:80]!r}")
    if isinstance(tree, exp.Copy):
        return copy_to_insert(tree)
    if isinstance(tree, exp.Create):
        return _drop_storage_options(tree)
    return tree


def to_duckdb(statement: str) -> str:
    """One Redshift statement as DuckDB SQL (see the module docstring for what changes)."""
    trees = sqlglot.parse(statement, read=READ_DIALECT)
    if len(trees) != 1 or trees[0] is None:
        raise TranspileError(f"expected exactly one statement, got {len(trees)}: {statement[:80]!r}")
    try:
        return rewrite(trees[0]).sql(dialect=WRITE_DIALECT, unsupported_level=ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise TranspileError(f"{exc} in {statement[:120]!r}") from exc


def script_to_duckdb(sql: str) -> list[str]:
    """Every statement of a rendered Redshift script, transpiled, in order."""
    return [to_duckdb(statement) for statement in split_statements(sql)]
