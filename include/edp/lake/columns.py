"""Column lists of the lake tables, silver's derived from the event contract's field catalog.

Nothing here is hand-written per event field: :func:`event_columns` walks
``edp.contract.field_catalog()`` (and ``meta_field_catalog()`` for the envelope's server metadata),
so a contract change shows up in the Spark schema, GX suites and warehouse DDL built from these lists.

Naming: a contract path becomes a column by replacing dots with underscores (``device.screen.width``
-> ``device_screen_width``, ``meta.received_at`` -> ``meta_received_at``); an array of objects
(``properties.items[]``) stays one ``array<struct>`` column whose element fields are named the same way.
Types use Spark SQL names (``string``, ``bigint``, ``double``, ``boolean``, ``timestamp``, ``date``,
``binary``, ``array``). Standard library only; :mod:`edp.lake.spark_schemas` turns these into
``StructType``s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from functools import lru_cache

from edp.contract import FieldSpec, field_catalog, meta_field_catalog

PII_HASH, PII_DROP, PII_MASK = "hash", "drop", "mask"


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a lake table.

    :param name: column name in the table.
    :param sql_type: Spark SQL type name; ``array`` columns describe their element in ``fields``.
    :param nullable: false only where every valid row has a value (Delta enforces it as NOT NULL).
    :param source_path: contract path the value comes from (``None`` for platform columns).
    :param pii: the contract's ``x-pii`` action for the source field, if any.
    :param format: the contract's ``format`` (``uri``, ``date-time``, ...), used by masking.
    :param description: column comment.
    :param fields: element fields of an ``array`` of objects.
    """

    name: str
    sql_type: str
    nullable: bool
    source_path: str | None = None
    pii: str | None = None
    format: str | None = None
    description: str | None = None
    fields: tuple[Column, ...] = ()


_SCALAR_TYPES = {"string": "string", "integer": "bigint", "number": "double", "boolean": "boolean"}


def column_name(path: str) -> str:
    """``device.screen.width`` -> ``device_screen_width``; ``items[].price`` (element part) -> ``price``."""
    return path.replace("[]", "").replace(".", "_")


def sql_type_of(spec: FieldSpec) -> str:
    if spec.json_type == "string" and spec.format == "date-time":
        return "timestamp"
    try:
        return _SCALAR_TYPES[spec.json_type]
    except KeyError:
        raise ValueError(
            f"no column type for contract field {spec.path!r} of type {spec.json_type}"
        ) from None


def _description(spec: FieldSpec) -> str | None:
    if spec.pii == PII_HASH:
        return f"Salted SHA-256 (hex) of the contract's {spec.path}; joinable, not reversible."
    if spec.pii == PII_MASK:
        url = _url_like(spec.path, spec.format)
        detail = "query string and fragment removed" if url else "e-mail addresses and long numbers redacted"
        return f"{spec.description or spec.path} ({detail})."
    return spec.description


def _url_like(path: str, fmt: str | None) -> bool:
    leaf = path.rsplit(".", 1)[-1]
    return fmt == "uri" or leaf.endswith("url") or leaf == "referrer"


def is_url_field(column: Column) -> bool:
    """URL-like masked fields lose their query string; other masked fields are treated as free text."""
    return _url_like(column.source_path or column.name, column.format)


def _columns(specs: Sequence[FieldSpec], prefix: str = "") -> list[Column]:
    """Flatten catalog entries below ``prefix`` into columns; objects flatten, arrays of objects nest."""
    columns: list[Column] = []
    for spec in specs:
        if not spec.path.startswith(prefix):
            continue
        relative = spec.path[len(prefix) :]
        if "[]." in relative:  # element field: belongs to its array column
            continue
        if spec.json_type == "object":
            continue  # its leaves are listed after it
        if spec.json_type == "array":
            element = [s for s in specs if s.path.startswith(f"{spec.path}[].")]
            if not element:
                raise ValueError(
                    f"array field {spec.path!r} has no object items; scalar arrays are unsupported"
                )
            fields = tuple(_columns(element, f"{spec.path}[]."))
            columns.append(
                Column(
                    column_name(relative),
                    "array",
                    spec.nullable,
                    spec.path,
                    spec.pii,
                    None,
                    spec.description,
                    fields,
                )
            )
            continue
        columns.append(
            Column(
                column_name(relative),
                sql_type_of(spec),
                spec.nullable,
                spec.path,
                spec.pii,
                spec.format,
                _description(spec),
            )
        )
    return columns


@lru_cache(maxsize=4)
def _event_columns(version: str | None) -> tuple[Column, ...]:
    columns = _columns(field_catalog(version)) + _columns(meta_field_catalog(version))
    _check_unique(c.name for c in columns)
    return tuple(columns)


def _check_unique(names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"two contract paths flatten to the column {name!r}; rename one in the contract")
        seen.add(name)


def event_columns(*, include_dropped: bool = False, version: str | None = None) -> list[Column]:
    """Typed columns of a parsed event + envelope meta, in contract order.

    ``include_dropped=False`` (silver) leaves out fields marked ``x-pii: drop``; the streaming job parses
    with them (``True``) and removes them in its PII step, so they never reach a silver file.
    """
    columns = list(_event_columns(version))
    return columns if include_dropped else [_without_dropped(c) for c in columns if c.pii != PII_DROP]


def _without_dropped(column: Column) -> Column:
    if not column.fields:
        return column
    kept = tuple(_without_dropped(f) for f in column.fields if f.pii != PII_DROP)
    return dataclasses.replace(column, fields=kept)


LINEAGE_COLUMNS: tuple[Column, ...] = (
    Column(
        "ingested_at",
        "timestamp",
        False,
        description="When the streaming micro-batch that wrote the row ran.",
    ),
    Column(
        "kinesis_shard_id", "string", False, description="Kinesis shard of the record (lineage to bronze)."
    ),
    Column("kinesis_sequence_number", "string", False, description="Kinesis sequence number of the record."),
)

EVENT_DATE = Column("event_date", "date", False, description="UTC date of occurred_at; the partition column.")


def silver_columns(version: str | None = None) -> list[Column]:
    """``silver.events``: contract columns without dropped PII, then lineage, then the partition column."""
    return [*event_columns(version=version), *LINEAGE_COLUMNS, EVENT_DATE]


KINESIS_COLUMNS: tuple[Column, ...] = (
    Column("partition_key", "string", True, description="Kinesis partition key (raw: may be a user id)."),
    Column("data", "binary", True, description="Record payload exactly as read: the JSON envelope bytes."),
    Column("stream", "string", True, description="Kinesis stream name."),
    Column("shard_id", "string", True, description="Kinesis shard id."),
    Column("sequence_number", "string", True, description="Kinesis sequence number within the shard."),
    Column(
        "approximate_arrival_timestamp", "timestamp", True, description="When Kinesis accepted the record."
    ),
)

INGEST_COLUMNS: tuple[Column, ...] = (
    Column("ingested_at", "timestamp", False, description="When the streaming micro-batch that read it ran."),
    Column("ingest_date", "date", False, description="UTC date of ingested_at; the partition column."),
)


def bronze_columns() -> list[Column]:
    return [*KINESIS_COLUMNS, *INGEST_COLUMNS]


REASON_COLUMNS: tuple[Column, ...] = (
    Column(
        "reason_code",
        "string",
        False,
        description="Why the record was rejected (see edp.stream.ReasonCode).",
    ),
    Column(
        "reason", "string", False, description="Human-readable details, e.g. the failing JSON Schema rules."
    ),
    Column("event_id", "string", True, description="The event's event_id when it could be read."),
    Column("event_type", "string", True, description="The event's event_type when it could be read."),
)


def quarantine_columns() -> list[Column]:
    return [*REASON_COLUMNS, *KINESIS_COLUMNS, *INGEST_COLUMNS]
