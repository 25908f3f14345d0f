"""Read the Delta lake without Spark: delta-rs tables and Arrow datasets, locally or on S3.

The quality gate, the gold export and the local Athena stand-in read small slices of the lake (one
interval's partitions), for which a JVM would cost more than the work. delta-rs reads the tables Spark
writes (it is the same Delta protocol); :func:`storage_options` comes from the environment's lake
storage (:mod:`edp.lake.storage`): none locally, the Airflow AWS connection's credentials on S3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from edp.config import PlatformConfig

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem


def storage_options(config: PlatformConfig) -> dict[str, str] | None:
    """delta-rs storage options of the environment's lake storage (none locally, credentials on S3)."""
    from edp.resources import resources  # noqa: PLC0415 - the mapping builds its storage lazily

    return resources(config).lake.storage_options()


def arrow_filesystem(options: Mapping[str, str] | None) -> FileSystem | None:
    """The pyarrow filesystem matching :func:`storage_options` (``None``: local paths)."""
    if not options:
        return None
    from pyarrow.fs import S3FileSystem  # noqa: PLC0415

    return S3FileSystem(
        access_key=options["AWS_ACCESS_KEY_ID"],
        secret_key=options["AWS_SECRET_ACCESS_KEY"],
        session_token=options.get("AWS_SESSION_TOKEN"),
        region=options["AWS_REGION"],
    )


def open_table(
    path: str, version: int | None = None, options: Mapping[str, str] | None = None
) -> DeltaTable | None:
    """The Delta table at ``path`` (at ``version`` if given), or ``None`` if there is none yet."""
    try:
        return DeltaTable(path, version=version, storage_options=dict(options) if options else None)
    except TableNotFoundError:
        return None


def current_version(path: str, options: Mapping[str, str] | None = None) -> int | None:
    table = open_table(path, options=options)
    return None if table is None else table.version()


def partition_dates(table: DeltaTable, column: str = "event_date") -> list[date]:
    """The distinct values of a ``date`` partition column, from the Delta log (no data files read)."""
    values = {p[column] for p in table.partitions() if p.get(column)}
    return sorted(date.fromisoformat(v) for v in values)


def dates_filter(column: str, dates: Sequence[date]) -> ds.Expression:
    return pc.field(column).isin(pa.array(sorted(set(dates)), pa.date32()))


def read(
    table: DeltaTable | None,
    schema: pa.Schema,
    *,
    filter: ds.Expression | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Rows of ``table`` matching ``filter``; an empty table of ``schema`` when the table does not exist."""
    if table is None:
        empty = schema if columns is None else pa.schema([schema.field(c) for c in columns])
        return empty.empty_table()
    dataset = table.to_pyarrow_dataset()
    return dataset.to_table(filter=filter, columns=list(columns) if columns is not None else None)


def to_naive_utc(table: pa.Table) -> pa.Table:
    """Timestamps with a zone become zone-less UTC wall time (what Redshift ``TIMESTAMP`` stores)."""
    fields: list[Any] = []
    for field in table.schema:
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            fields.append(pa.field(field.name, pa.timestamp(field.type.unit), field.nullable, field.metadata))
        else:
            fields.append(field)
    target = pa.schema(fields, table.schema.metadata)
    return table if target == table.schema else table.cast(target)
