"""Spark ``StructType``s of the lake tables, built from :mod:`edp.lake.columns`.

pyspark is imported inside the functions, so DAGs and the supervisor can import ``lake_layout``
without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from edp.contract import FieldSpec, field_catalog, meta_field_catalog
from edp.lake.columns import (
    Column,
    bronze_columns,
    column_name,
    quarantine_columns,
    silver_columns,
    sql_type_of,
)
from edp.lake.tables import BRONZE_EVENTS, QUARANTINE_EVENTS, SILVER_EVENTS, TableSpec

if TYPE_CHECKING:
    from pyspark.sql.types import DataType, StructField, StructType


def spark_type(column: Column) -> DataType:
    """The Spark type of one column (``array`` columns become ``array<struct<...>>``)."""
    from pyspark.sql import types as T  # noqa: PLC0415 - keep importing lake_layout cheap

    if column.sql_type == "array":
        return T.ArrayType(to_struct(column.fields), containsNull=True)
    scalars = {
        "string": T.StringType(),
        "bigint": T.LongType(),
        "double": T.DoubleType(),
        "boolean": T.BooleanType(),
        "timestamp": T.TimestampType(),
        "date": T.DateType(),
        "binary": T.BinaryType(),
    }
    return scalars[column.sql_type]


def struct_field(column: Column) -> StructField:
    from pyspark.sql.types import StructField  # noqa: PLC0415

    metadata = {"comment": column.description} if column.description else {}
    return StructField(column.name, spark_type(column), column.nullable, metadata)


def to_struct(columns: Sequence[Column]) -> StructType:
    from pyspark.sql.types import StructType  # noqa: PLC0415

    return StructType([struct_field(c) for c in columns])


def bronze_schema() -> StructType:
    return to_struct(bronze_columns())


def silver_schema(version: str | None = None) -> StructType:
    return to_struct(silver_columns(version))


def quarantine_schema() -> StructType:
    return to_struct(quarantine_columns())


_SCHEMAS = {
    BRONZE_EVENTS.name: bronze_schema,
    SILVER_EVENTS.name: silver_schema,
    QUARANTINE_EVENTS.name: quarantine_schema,
}


def schema_for(spec: TableSpec) -> StructType:
    """The Spark schema of a Delta table spec."""
    try:
        return _SCHEMAS[spec.name]()
    except KeyError:
        raise KeyError(f"no Spark schema for {spec.name!r} ({spec.format})") from None


def _json_shape(specs: Sequence[FieldSpec], prefix: str) -> StructType:
    """Nested struct of the JSON below ``prefix``, as ``from_json`` needs it (every field nullable)."""
    from pyspark.sql import types as T  # noqa: PLC0415

    fields = []
    for spec in specs:
        relative = spec.path[len(prefix) :] if spec.path.startswith(prefix) else None
        if not relative or "." in relative:
            continue
        if spec.json_type == "object":
            data_type: DataType = _json_shape(specs, f"{spec.path}.")
        elif spec.json_type == "array":
            data_type = T.ArrayType(_json_shape(specs, f"{spec.path}[]."), containsNull=True)
        else:
            data_type = spark_type(Column(column_name(relative), sql_type_of(spec), True))
        fields.append(T.StructField(relative.removesuffix("[]"), data_type, True))
    return T.StructType(fields)


def envelope_json_schema(version: str | None = None) -> StructType:
    """``struct<event: struct<...all event types' fields...>, meta: struct<...>>`` for ``from_json``."""
    from pyspark.sql import types as T  # noqa: PLC0415

    meta = [
        FieldSpec(s.path.removeprefix("meta."), s.json_type, True, s.pii, s.format)
        for s in meta_field_catalog(version)
    ]
    return T.StructType(
        [
            T.StructField("event", _json_shape(field_catalog(version), ""), True),
            T.StructField("meta", _json_shape(meta, ""), True),
        ]
    )
