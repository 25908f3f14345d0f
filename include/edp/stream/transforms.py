"""The streaming job's transformations: small, typed ``DataFrame -> DataFrame`` functions.

raw Kinesis rows --:func:`to_bronze`--> bronze rows --:func:`parse_envelopes`--> checked rows
--:func:`split_valid_invalid`--> (typed events, quarantine rows); typed events
--:func:`dedupe_within_batch`--> --:func:`apply_pii_policy`--> silver rows.

Column lists and types come from :mod:`lake_layout`, so every function returns exactly the schema of
the table it feeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from edp.lake import Column, bronze_columns, event_columns, is_url_field, quarantine_columns, silver_columns
from edp.lake.columns import EVENT_DATE, LINEAGE_COLUMNS, PII_HASH, PII_MASK
from edp.lake.spark_schemas import envelope_json_schema, spark_type
from edp.stream.records import check_record

KINESIS_RECORD_SCHEMA = (
    "partitionKey STRING, data BINARY, stream STRING, shardId STRING, sequenceNumber STRING, "
    "approximateArrivalTimestamp TIMESTAMP"
)
"""Columns of Databricks' ``format("kinesis")`` and of our ``format("kinesis_local")``."""

_KINESIS_TO_BRONZE = {
    "partition_key": "partitionKey",
    "data": "data",
    "stream": "stream",
    "shard_id": "shardId",
    "sequence_number": "sequenceNumber",
    "approximate_arrival_timestamp": "approximateArrivalTimestamp",
}

CHECK_COLUMN = "_check"
ENVELOPE_COLUMN = "_envelope"
_CHECK_TYPE = "struct<reason_code:string,reason:string,envelope_json:string,event_id:string,event_type:string,event_date:string>"

# Free text may carry contact details: e-mail addresses and long digit runs (phone, card, account
# numbers) are replaced; URLs inside the text lose their query string like URL fields do.
_URL_QUERY = r"[?#].*$"
_TEXT_URL_QUERY = r"(https?://[^\s?#]+)[?#]\S*"
_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
_LONG_NUMBER = r"\+?\d[\d -]{4,}\d"


class SplitBatch(NamedTuple):
    """Valid typed events (pre-PII) and quarantine rows of one batch."""

    valid: DataFrame
    quarantine: DataFrame


def _cast_to(columns: Sequence[Column], exprs: dict[str, SparkColumn]) -> list[SparkColumn]:
    return [exprs[c.name].cast(spark_type(c)).alias(c.name) for c in columns]


def to_bronze(raw: DataFrame, *, ingested_at: datetime | None = None) -> DataFrame:
    """Kinesis rows (``KINESIS_RECORD_SCHEMA``) to ``bronze.events`` rows, stamped with the batch time."""
    moment = (ingested_at or datetime.now(tz=UTC)).astimezone(UTC)
    exprs = {name: F.col(source) for name, source in _KINESIS_TO_BRONZE.items()}
    exprs["ingested_at"] = F.lit(moment)
    exprs["ingest_date"] = F.lit(moment.date())
    return raw.select(*_cast_to(bronze_columns(), exprs))


def _check(data: bytes | None) -> tuple[str | None, ...]:
    result = check_record(data)
    return (
        result.reason_code,
        result.reason,
        result.envelope_json,
        result.event_id,
        result.event_type,
        result.event_date,
    )


@lru_cache(maxsize=1)
def _check_udf():
    # Arrow batches rows between the JVM and the Python worker: far cheaper than pickling row by row.
    return F.udf(_check, _CHECK_TYPE, useArrow=True)


def parse_envelopes(bronze: DataFrame) -> DataFrame:
    """Add the contract check of each record (``_check``) and, for valid ones, the typed ``_envelope``."""
    checked = bronze.withColumn(CHECK_COLUMN, _check_udf()(F.col("data")))
    envelope = F.from_json(
        F.col(f"{CHECK_COLUMN}.envelope_json"), envelope_json_schema(), {"mode": "FAILFAST"}
    )
    return checked.withColumn(ENVELOPE_COLUMN, envelope)


def _source_expr(column: Column) -> SparkColumn:
    """Read a contract path from the parsed envelope, flattening objects and keeping arrays of structs."""
    path = column.source_path or column.name
    base = (
        f"{ENVELOPE_COLUMN}.meta.{path.removeprefix('meta.')}"
        if path.startswith("meta.")
        else f"{ENVELOPE_COLUMN}.event.{path}"
    )
    if not column.fields:
        return F.col(base)
    return F.transform(F.col(base), lambda item: _element(item, column.fields, f"{path}[]."))


def _element(item: SparkColumn, fields: Sequence[Column], prefix: str) -> SparkColumn:
    values = []
    for field in fields:
        value = item
        for part in (field.source_path or field.name).removeprefix(prefix).split("."):
            value = value.getField(part)
        values.append(value.alias(field.name))
    return F.struct(*values)


def split_valid_invalid(parsed: DataFrame) -> SplitBatch:
    """Valid records as typed event columns (still with PII) + lineage; the rest as quarantine rows."""
    is_valid = F.col(f"{CHECK_COLUMN}.reason_code").isNull()

    events = event_columns(include_dropped=True)
    exprs = {c.name: _source_expr(c) for c in events}
    exprs |= {
        "ingested_at": F.col("ingested_at"),
        "kinesis_shard_id": F.col("shard_id"),
        "kinesis_sequence_number": F.col("sequence_number"),
        "event_date": F.col(f"{CHECK_COLUMN}.event_date").cast("date"),
    }
    valid_columns = [*events, *LINEAGE_COLUMNS, EVENT_DATE]
    valid = parsed.where(is_valid).select(*_cast_to(valid_columns, exprs))

    quarantine_exprs = {c.name: F.col(c.name) for c in quarantine_columns()}
    for field in ("reason_code", "reason", "event_id", "event_type"):
        quarantine_exprs[field] = F.col(f"{CHECK_COLUMN}.{field}")
    quarantine = parsed.where(~is_valid).select(*_cast_to(quarantine_columns(), quarantine_exprs))
    return SplitBatch(valid, quarantine)


def dedupe_within_batch(events: DataFrame) -> DataFrame:
    """One row per ``event_id``: the first copy in shard/sequence order (deterministic across replays)."""
    first = Window.partitionBy("event_id").orderBy(
        "kinesis_shard_id", F.length("kinesis_sequence_number"), "kinesis_sequence_number"
    )
    return events.withColumn("_copy", F.row_number().over(first)).where(F.col("_copy") == 1).drop("_copy")


def hash_pii(value: SparkColumn, salt: str) -> SparkColumn:
    """Hex SHA-256 of ``salt + value`` (null stays null): joinable across tables, not reversible."""
    return F.sha2(F.concat(F.lit(salt), value), 256)


def mask_url(value: SparkColumn) -> SparkColumn:
    """Drop the query string and fragment, which carry search terms, tokens and e-mail addresses."""
    return F.regexp_replace(value, _URL_QUERY, "")


def mask_text(value: SparkColumn) -> SparkColumn:
    masked = F.regexp_replace(value, _TEXT_URL_QUERY, "$1")
    masked = F.regexp_replace(masked, _EMAIL, "<email>")
    return F.regexp_replace(masked, _LONG_NUMBER, "<number>")


def _pii_expr(column: Column, value: SparkColumn, salt: str) -> SparkColumn:
    if column.fields:
        return F.transform(
            value,
            lambda item: F.struct(
                *[_pii_expr(f, item.getField(f.name), salt).alias(f.name) for f in column.fields]
            ),
        )
    if column.pii == PII_HASH:
        return hash_pii(value, salt)
    if column.pii == PII_MASK:
        return mask_url(value) if is_url_field(column) else mask_text(value)
    return value


def apply_pii_policy(events: DataFrame, salt: str) -> DataFrame:
    """Apply each field's ``x-pii`` action and return exactly the ``silver.events`` columns.

    ``hash``: salted SHA-256; ``drop``: not selected (so never written to silver); ``mask``: URLs lose
    query string and fragment, free text loses e-mail addresses and long numbers.
    """
    if not salt:
        raise ValueError("the PII hash salt is empty; set PII_HASH_SALT (see edp.stream.pii)")
    exprs = {c.name: _pii_expr(c, F.col(c.name), salt) for c in silver_columns()}
    return events.select(*_cast_to(silver_columns(), exprs))
