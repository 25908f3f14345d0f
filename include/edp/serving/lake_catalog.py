"""The local stand-in for Glue + Athena: the same DDL files, then ad hoc SQL over the Delta lake.

On AWS the ``lake_catalog`` DAG runs ``include/sql/athena/*.sql`` with ``AthenaOperator``: a Glue database
and one ``CREATE EXTERNAL TABLE ... TBLPROPERTIES ('table_type'='DELTA')`` per lake table. Locally the
same rendered statements go to :meth:`LocalLakeCatalog.apply_ddl`, which parses them with sqlglot's
Athena dialect and records database, table and location in ``<state dir>/warehouse/lake_catalog.json``
(Glue's role). :class:`LakeQueryEngine` is Athena's: an in-memory DuckDB where every catalogued table is
a view over ``deltalake.DeltaTable(location).to_pyarrow_dataset()`` (delta-rs reads the current
snapshot; DuckDB pushes filters down to the Arrow dataset), queried in Athena SQL transpiled to DuckDB.

    python -m edp.serving.lake_catalog "SELECT event_type, count(*) FROM edp_lake.silver_events GROUP BY 1"
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from edp.config import PlatformConfig, get_config
from edp.lake.reader import open_table
from edp.serving.names import lake_catalog_path

ATHENA = "athena"
CATALOG_FORMAT = "edp.lake_catalog/v1"


class CatalogError(ValueError):
    """A DDL statement Athena would refuse too (unknown database, table exists, not a Delta table...)."""


def _properties(create: exp.Create) -> tuple[str | None, dict[str, str], bool]:
    location, props, external = None, {}, False
    for prop in create.args.get("properties").expressions if create.args.get("properties") else []:
        if isinstance(prop, exp.LocationProperty):
            location = prop.this.name
        elif isinstance(prop, exp.ExternalProperty):
            external = True
        elif isinstance(prop, exp.Property):
            props[prop.this.name.lower()] = prop.args["value"].name
    return location, props, external


class LocalLakeCatalog:
    """Databases and Delta tables registered by Athena DDL, persisted as one JSON file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"format": CATALOG_FORMAT, "databases": {}, "tables": {}}
        if document.get("format") != CATALOG_FORMAT:
            raise CatalogError(f"{self.path} is not a lake catalog ({document.get('format')!r})")
        return document

    def _save(self, document: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True))
        os.replace(tmp, self.path)

    def apply_ddl(self, rendered_sql: str) -> list[str]:
        """Apply Athena DDL statements (CREATE DATABASE, CREATE EXTERNAL TABLE ... DELTA); what changed."""
        document = self.load()
        changes = []
        for tree in sqlglot.parse(rendered_sql, read=ATHENA):
            if tree is None:
                continue
            if not isinstance(tree, exp.Create) or tree.args.get("kind") not in (
                "DATABASE",
                "SCHEMA",
                "TABLE",
            ):
                raise CatalogError(
                    f"the local catalog applies CREATE DATABASE/EXTERNAL TABLE only: {tree.sql()[:80]!r}"
                )
            changes.append(self._apply_create(document, tree))
        self._save(document)
        return changes

    def _apply_create(self, document: dict[str, Any], create: exp.Create) -> str:
        exists_ok = bool(create.args.get("exists"))
        if create.args["kind"] in ("DATABASE", "SCHEMA"):
            name = create.this.name
            if name in document["databases"]:
                if not exists_ok:
                    raise CatalogError(f"database {name} already exists")
                return f"database {name} exists"
            document["databases"][name] = {"created_at": datetime.now(tz=UTC).isoformat()}
            return f"created database {name}"
        table = create.this
        database, name = table.db, table.name
        if database not in document["databases"]:
            raise CatalogError(f"database {database!r} does not exist; create it first")
        location, props, external = _properties(create)
        if not external or location is None or props.get("table_type", "").upper() != "DELTA":
            raise CatalogError(f"{database}.{name}: only EXTERNAL tables with LOCATION and table_type=DELTA")
        key = f"{database}.{name}"
        if key in document["tables"]:
            if not exists_ok:
                raise CatalogError(f"table {key} already exists")
            return f"table {key} exists"
        document["tables"][key] = {
            "location": location,
            "table_type": "DELTA",
            "ddl": create.sql(dialect=ATHENA),
        }
        return f"registered {key} at {location}"


class LakeQueryEngine:
    """Athena's local stand-in: DuckDB views over the catalogued Delta tables (see the module docstring)."""

    def __init__(self, catalog: LocalLakeCatalog, storage_options: Mapping[str, str] | None = None) -> None:
        self.catalog = catalog
        self.storage_options = storage_options

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """In-memory DuckDB with one schema per database and one view per table that exists on disk."""
        document = self.catalog.load()
        connection = duckdb.connect()
        try:
            connection.execute("SET TimeZone = 'UTC'")
            for database in document["databases"]:
                connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
            for key, entry in sorted(document["tables"].items()):
                table = open_table(entry["location"], options=self.storage_options)
                if table is None:
                    continue  # registered before its first write; Athena would fail the query too
                database, name = key.split(".", 1)
                arrow_name = f"__delta__{database}__{name}"
                connection.register(arrow_name, table.to_pyarrow_dataset())
                connection.execute(f'CREATE VIEW "{database}"."{name}" AS SELECT * FROM "{arrow_name}"')
            yield connection
        finally:
            connection.close()

    def query(self, athena_sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of one Athena (Trino) SQL query."""
        statement = sqlglot.transpile(athena_sql, read=ATHENA, write="duckdb")
        if len(statement) != 1:
            raise ValueError("one query at a time")
        with self.connect() as connection:
            cursor = connection.execute(statement[0])
            return [d[0] for d in cursor.description or []], cursor.fetchall()


def engine_for(config: PlatformConfig) -> LakeQueryEngine:
    return LakeQueryEngine(LocalLakeCatalog(lake_catalog_path(config)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="edp.serving.lake_catalog", description="Ad hoc Athena SQL over the local lake."
    )
    parser.add_argument(
        "sql", help="one query in Athena SQL, e.g. SELECT count(*) FROM edp_lake.silver_events"
    )
    parser.add_argument("--limit", type=int, default=50, help="rows to print")
    args = parser.parse_args(argv)
    columns, rows = engine_for(get_config()).query(args.sql)
    print("\t".join(columns))
    for row in rows[: args.limit]:
        print("\t".join("" if v is None else str(v) for v in row))
    if len(rows) > args.limit:
        print(f"... {len(rows) - args.limit} more rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
