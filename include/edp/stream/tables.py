"""Create the streaming job's Delta tables, and evolve them only the way the layout policy allows.

See the schema-evolution policy in :mod:`lake_layout`: new nullable columns are added at start-up;
anything else (a removed, retyped or newly NOT NULL column) stops the job with
:class:`SchemaEvolutionError` before it writes a row.
"""

from __future__ import annotations

from collections.abc import Iterable

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql.types import StructField, StructType

from edp.lake import BRONZE_EVENTS, QUARANTINE_EVENTS, SILVER_EVENTS, TableSpec
from edp.lake.spark_schemas import schema_for

STREAMING_TABLES = (BRONZE_EVENTS, SILVER_EVENTS, QUARANTINE_EVENTS)


class SchemaEvolutionError(RuntimeError):
    """The code's schema differs from the table's in a way the evolution policy forbids."""


def schema_changes(current: StructType, expected: StructType) -> tuple[list[str], list[StructField]]:
    """(forbidden differences, columns to add) between a table's schema and the code's."""
    have = {f.name: f for f in current.fields}
    want = {f.name: f for f in expected.fields}
    problems = [f"column {name!r} was removed" for name in have if name not in want]
    for name, field in want.items():
        old = have.get(name)
        if old is None:
            if not field.nullable:
                problems.append(f"new column {name!r} must be nullable")
        elif old.dataType.simpleString() != field.dataType.simpleString():  # ignores comments
            problems.append(
                f"column {name!r} changed type {old.dataType.simpleString()} -> {field.dataType.simpleString()}"
            )
        elif old.nullable and not field.nullable:
            problems.append(f"column {name!r} became NOT NULL")
    additions = [f for name, f in want.items() if name not in have and f.nullable]
    return problems, additions


def _create(spark: SparkSession, spec: TableSpec, path: str) -> None:
    builder = (
        DeltaTable.createIfNotExists(spark)
        .location(path)
        .addColumns(schema_for(spec))
        .partitionedBy(*spec.partition_columns)
        .comment(spec.description)
    )
    for key, value in spec.properties:
        builder = builder.property(key, value)
    builder.execute()


def _add_columns(spark: SparkSession, path: str, fields: Iterable[StructField]) -> None:
    definitions = []
    for field in fields:
        comment = field.metadata.get("comment")
        escaped = comment.replace("'", "\\'") if comment else None
        definitions.append(
            f"`{field.name}` {field.dataType.simpleString()}" + (f" COMMENT '{escaped}'" if escaped else "")
        )
    spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({', '.join(definitions)})")


def ensure_table(spark: SparkSession, spec: TableSpec, lake_root: str) -> str:
    """Create ``spec``'s table under ``lake_root`` if absent, add new nullable columns; return its path."""
    path = spec.path(lake_root)
    if not DeltaTable.isDeltaTable(spark, path):
        _create(spark, spec, path)
        return path
    problems, additions = schema_changes(DeltaTable.forPath(spark, path).toDF().schema, schema_for(spec))
    if problems:
        raise SchemaEvolutionError(
            f"{spec.name} at {path}: {'; '.join(problems)}. Only new nullable columns may be added "
            "(with a contract minor bump); see the schema-evolution policy in docs/lake.md."
        )
    if additions:
        _add_columns(spark, path, additions)
    return path


def ensure_streaming_tables(spark: SparkSession, lake_root: str) -> dict[str, str]:
    """Bronze, silver and quarantine tables, ready for the streaming job: ``{table name: path}``."""
    return {spec.name: ensure_table(spark, spec, lake_root) for spec in STREAMING_TABLES}
