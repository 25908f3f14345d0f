"""Gold tables on Delta: creation from :mod:`edp.lake.gold`, and partition-exact overwrites.

:func:`overwrite_partitions` is what makes a gold build interval-idempotent: one Delta commit replaces
exactly the listed ``event_date`` partitions (``replaceWhere``) with the rebuilt rows, whatever they
held before, so running the same interval twice leaves the same rows. Delta checks that every written
row matches the predicate, so a bug cannot spill rows into partitions outside the interval's dates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from edp.lake import TableSpec
from edp.lake.columns import Column
from edp.lake.gold import gold_columns
from edp.lake.intervals import in_dates_predicate
from edp.lake.spark_schemas import spark_type
from edp.stream.tables import SchemaEvolutionError, schema_changes

_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


def column_type(column: Column) -> T.DataType:
    """:func:`edp.lake.spark_schemas.spark_type`, plus ``decimal(p,s)`` (gold's money columns)."""
    if match := _DECIMAL.match(column.sql_type):
        return T.DecimalType(int(match[1]), int(match[2]))
    return spark_type(column)


def gold_schema(spec: TableSpec) -> T.StructType:
    return T.StructType(
        [
            T.StructField(
                c.name, column_type(c), c.nullable, {"comment": c.description} if c.description else {}
            )
            for c in gold_columns(spec)
        ]
    )


def ensure_gold_table(spark: SparkSession, spec: TableSpec, lake_root: str) -> str:
    """Create the gold table if absent; refuse a table whose schema the code no longer matches."""
    path = spec.path(lake_root)
    schema = gold_schema(spec)
    if not DeltaTable.isDeltaTable(spark, path):
        (
            DeltaTable.createIfNotExists(spark)
            .location(path)
            .addColumns(schema)
            .partitionedBy(*spec.partition_columns)
            .comment(spec.description)
            .execute()
        )
        return path
    problems, additions = schema_changes(DeltaTable.forPath(spark, path).toDF().schema, schema)
    if problems or additions:
        raise SchemaEvolutionError(
            f"{spec.name} at {path} does not match edp.lake.gold: "
            f"{'; '.join(problems + [f'new column {f.name!r}' for f in additions])}. Gold is derived data: "
            "drop the table (or the changed column's partitions) and rebuild it with the lake_backfill DAG."
        )
    return path


def conform(df: DataFrame, schema: T.StructType) -> DataFrame:
    """Exactly the table's columns, in table order and types."""
    return df.select(*[df[f.name].cast(f.dataType).alias(f.name) for f in schema.fields])


def overwrite_partitions(df: DataFrame, spec: TableSpec, dates: Sequence[date], lake_root: str) -> str:
    """Replace the ``event_date`` partitions ``dates`` of a gold table with ``df`` in one commit.

    Partitions in ``dates`` for which ``df`` has no rows end up empty; partitions not listed are
    untouched. Each date's rows are written by one task, so a partition is one file.
    """
    path = ensure_gold_table(df.sparkSession, spec, lake_root)
    predicate = in_dates_predicate("event_date", dates)
    rows = conform(df, gold_schema(spec)).repartition("event_date")
    rows.write.format("delta").mode("overwrite").option("replaceWhere", predicate).save(path)
    return path
