"""Arrow schemas of the lake tables, from the same :mod:`lake_layout` column lists Spark's come from."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pyarrow as pa

from edp.lake.columns import Column, bronze_columns, silver_columns
from edp.lake.gold import gold_columns
from edp.lake.tables import TableSpec

_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "binary": pa.binary(),
}


def arrow_type(column: Column) -> pa.DataType:
    if column.sql_type == "array":
        return pa.list_(pa.struct([arrow_field(f) for f in column.fields]))
    if match := _DECIMAL.match(column.sql_type):
        return pa.decimal128(int(match[1]), int(match[2]))
    try:
        return _SCALARS[column.sql_type]
    except KeyError:
        raise ValueError(f"no Arrow type for column {column.name!r} of type {column.sql_type}") from None


def arrow_field(column: Column) -> pa.Field:
    return pa.field(column.name, arrow_type(column), nullable=column.nullable)


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([arrow_field(c) for c in columns])


def silver_arrow_schema() -> pa.Schema:
    return arrow_schema(silver_columns())


def bronze_arrow_schema() -> pa.Schema:
    return arrow_schema(bronze_columns())


def gold_arrow_schema(spec: TableSpec) -> pa.Schema:
    return arrow_schema(gold_columns(spec))
