"""The expectation suites, as data derived from the event contract and ``lake_layout``. Stdlib only.

Nothing per event field is hand-written here: the silver suite walks ``edp.lake.silver_columns()``
(itself derived from ``edp.contract.field_catalog()``) and the catalog's enums, lengths and PII marks;
the gold suites walk ``edp.lake.gold``'s column lists. ``python -m edp.quality.build_context`` turns
these specs into the GX file context under ``great_expectations/`` (and a unit test fails when the
committed context no longer matches them, e.g. after a contract change).

Each suite validates a *frame*: the rows of one table for one load plan, as built by
:mod:`edp.quality.frames` (which documents the derived columns a suite may name). Values known only at run
time (the interval, the stream name) are suite parameters: ``{"$PARAMETER": "interval_start"}``.

| suite | frame | guards |
| --- | --- | --- |
| ``bronze.events`` | bronze rows ingested in the interval; ``data`` as its byte length | volume, arrival times, no missing payloads or sequence numbers |
| ``silver.events`` | silver rows ingested in the interval | the contract: keys, types, enums, lengths, hashing, time bounds |
| ``gold.<table>`` | the gold table's planned partitions | schema, non-negative measures, rates in [0, 1], keys, internal consistency |
| ``gold.reconciliation`` | totals per date recomputed from silver vs gold | gold agrees with silver (events, errors, DAU, units, revenue) |
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping, Sequence
from typing import Any

from edp.contract import (
    CONTRACT_VERSION,
    EVENT_TYPES,
    MAX_CLOCK_SKEW,
    MAX_EVENT_AGE,
    field_catalog,
    meta_field_catalog,
)
from edp.lake import BRONZE_EVENTS, SILVER_EVENTS, bronze_columns, silver_columns
from edp.lake.columns import PII_HASH, Column
from edp.lake.gold import (
    ALL_PLATFORMS,
    GOLD_APP_ERRORS_DAILY,
    GOLD_DAILY_ACTIVE_USERS,
    GOLD_FUNNEL_DAILY,
    GOLD_REVENUE_DAILY,
    GOLD_SESSIONS,
    GOLD_SESSIONS_DAILY,
    GOLD_TABLES,
    gold_columns,
)
from edp.lake.tables import TableSpec


class Layer(enum.StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"


def param(name: str) -> dict[str, str]:
    """A suite parameter, supplied per run as ``expectation_parameters``."""
    return {"$PARAMETER": name}


@dataclasses.dataclass(frozen=True)
class Rule:
    """One expectation: GX type (snake case), its keyword arguments, and why it exists."""

    type: str
    kwargs: Mapping[str, Any]
    notes: str = ""

    def describe(self) -> str:
        """``expect_column_values_to_not_be_null(user_id)``: how alerts and records name the rule."""
        return describe(self.type, self.kwargs)


def describe(expectation_type: str, kwargs: Mapping[str, Any]) -> str:
    for keys in (("column",), ("column_A", "column_B"), ("column_list",), ("column_set",)):
        if all(k in kwargs for k in keys):
            values = [kwargs[k] for k in keys]
            if keys in (("column_list",), ("column_set",)):
                listed = list(values[0])
                target = ", ".join(listed) if len(listed) <= 4 else f"{len(listed)} columns"
            else:
                target = ", ".join(str(v) for v in values)
            return f"{expectation_type}({target})"
    return f"{expectation_type}()"


@dataclasses.dataclass(frozen=True)
class SuiteSpec:
    """A suite and what it guards; its name is also its checkpoint's and validation definition's name."""

    name: str
    layer: Layer
    table: str
    description: str
    rules: tuple[Rule, ...]
    index_columns: tuple[str, ...] = ()
    """Columns that identify a failing row in results and alerts (GX ``unexpected_index_column_names``)."""

    @property
    def asset(self) -> str:
        """The GX data asset (one per frame kind) the suite's batches come from."""
        return self.name


# ---- bronze ---------------------------------------------------------------------------------------

KINESIS_MAX_RECORD_BYTES = 1024 * 1024
BRONZE_PAYLOAD_BYTES = "data_bytes"
BRONZE_REQUIRED = (
    "data_bytes",
    "stream",
    "shard_id",
    "sequence_number",
    "approximate_arrival_timestamp",
    "ingested_at",
    "ingest_date",
)


def bronze_frame_columns() -> list[str]:
    """Bronze columns with ``data`` replaced by ``data_bytes`` (its length; null when ``data`` is null)."""
    return [BRONZE_PAYLOAD_BYTES if c.name == "data" else c.name for c in bronze_columns()]


def bronze_suite() -> SuiteSpec:
    rules = [
        Rule(
            "expect_table_row_count_to_be_between",
            {"min_value": param("min_rows")},
            "volume: the interval must bring records (min_rows, default 1)",
        ),
        Rule(
            "expect_table_columns_to_match_set",
            {"column_set": bronze_frame_columns(), "exact_match": True},
            "the frame has exactly bronze's columns",
        ),
        *[
            Rule(
                "expect_column_values_to_not_be_null",
                {"column": c},
                "every record keeps its payload and position",
            )
            for c in BRONZE_REQUIRED
        ],
        Rule(
            "expect_column_values_to_be_between",
            {"column": BRONZE_PAYLOAD_BYTES, "min_value": 1, "max_value": KINESIS_MAX_RECORD_BYTES},
            "a Kinesis record holds 1 byte to 1 MiB",
        ),
        Rule(
            "expect_column_values_to_be_between",
            {
                "column": "approximate_arrival_timestamp",
                "min_value": param("arrival_floor"),
                "max_value": param("interval_end"),
            },
            "arrival within the interval, or at most the stream's retention earlier (a lagging consumer)",
        ),
        Rule(
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "ingested_at", "column_B": "approximate_arrival_timestamp", "or_equal": True},
            "a record is read after Kinesis accepted it",
        ),
        Rule(
            "expect_column_values_to_be_in_set",
            {"column": "stream", "value_set": param("stream_names")},
            "records come from the configured stream",
        ),
    ]
    return SuiteSpec(
        BRONZE_EVENTS.name,
        Layer.BRONZE,
        BRONZE_EVENTS.name,
        "Bronze records ingested during the interval: volume and arrival.",
        tuple(rules),
        ("shard_id", "sequence_number"),
    )


# ---- silver ---------------------------------------------------------------------------------------

OCCURRED_ON = "occurred_on"
OCCURRED_LAG_SECONDS = "occurred_lag_seconds"
SILVER_DERIVED = (OCCURRED_ON, OCCURRED_LAG_SECONDS)
UUID_LOWER = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
SHA256_HEX = r"^[0-9a-f]{64}$"


def _catalog_by_path() -> dict[str, Any]:
    return {spec.path: spec for spec in [*field_catalog(), *meta_field_catalog()]}


def silver_frame_columns() -> list[str]:
    """Silver's columns (from the contract) plus the derived ones (see :mod:`edp.quality.frames`)."""
    return [c.name for c in silver_columns()] + list(SILVER_DERIVED)


def _field_rules(column: Column, spec: Any) -> list[Rule]:
    rules: list[Rule] = []
    if spec.enum:
        rules.append(
            Rule(
                "expect_column_values_to_be_in_set",
                {"column": column.name, "value_set": list(spec.enum)},
                f"contract enum of {spec.path}",
            )
        )
    if column.pii == PII_HASH:
        rules.append(
            Rule(
                "expect_column_values_to_match_regex",
                {"column": column.name, "regex": SHA256_HEX},
                f"{spec.path} is stored as a salted SHA-256, never raw",
            )
        )
    elif spec.max_length and column.sql_type == "string":
        rules.append(
            Rule(
                "expect_column_value_lengths_to_be_between",
                {"column": column.name, "min_value": 0, "max_value": spec.max_length},
                f"contract maxLength of {spec.path}",
            )
        )
    return rules


def silver_suite() -> SuiteSpec:
    columns = silver_columns()
    catalog = _catalog_by_path()
    major = CONTRACT_VERSION.split(".", 1)[0]
    rules = [
        Rule(
            "expect_table_columns_to_match_set",
            {"column_set": silver_frame_columns(), "exact_match": True},
            "silver has exactly the contract's columns (plus the frame's derived ones)",
        ),
        *[
            Rule("expect_column_values_to_not_be_null", {"column": c.name}, "required by every event type")
            for c in columns
            if not c.nullable
        ],
        Rule("expect_column_values_to_be_unique", {"column": "event_id"}, "one row per event_id"),
        Rule(
            "expect_column_values_to_match_regex",
            {"column": "event_id", "regex": UUID_LOWER},
            "event_id is a lower-case UUID",
        ),
        Rule(
            "expect_column_values_to_be_in_set",
            {"column": "event_type", "value_set": list(EVENT_TYPES)},
            "event types of the contract",
        ),
        Rule(
            "expect_column_values_to_match_regex",
            {"column": "meta_contract_version", "regex": rf"^{re.escape(major)}\.\d+$"},
            f"written under contract major version {major}",
        ),
    ]
    for column in columns:
        spec = catalog.get(column.source_path or "")
        if spec is not None and column.sql_type != "array":
            rules.extend(_field_rules(column, spec))
    rules += [
        Rule(
            "expect_column_values_to_be_between",
            {
                "column": OCCURRED_LAG_SECONDS,
                "min_value": -MAX_CLOCK_SKEW.total_seconds(),
                "max_value": MAX_EVENT_AGE.total_seconds(),
            },
            "occurred_at within [received_at - MAX_EVENT_AGE, received_at + MAX_CLOCK_SKEW]",
        ),
        Rule(
            "expect_column_values_to_be_between",
            {
                "column": "occurred_at",
                "min_value": param("occurred_floor"),
                "max_value": param("occurred_ceiling"),
            },
            "occurred_at within what an event ingested in the interval can carry",
        ),
        Rule(
            "expect_column_pair_values_to_be_equal",
            {"column_A": "event_date", "column_B": OCCURRED_ON},
            "event_date is the UTC date of occurred_at (the partition is right)",
        ),
        Rule(
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "ingested_at", "column_B": "meta_received_at", "or_equal": True},
            "an event is ingested after the API received it",
        ),
    ]
    return SuiteSpec(
        SILVER_EVENTS.name,
        Layer.SILVER,
        SILVER_EVENTS.name,
        "Silver events ingested during the interval, against the event contract.",
        tuple(rules),
        ("event_id",),
    )


# ---- gold -----------------------------------------------------------------------------------------

GOLD_KEYS: dict[str, tuple[str, ...]] = {
    GOLD_DAILY_ACTIVE_USERS.name: ("event_date", "platform"),
    GOLD_SESSIONS.name: ("anonymous_id", "session_id"),
    GOLD_SESSIONS_DAILY.name: ("event_date", "platform"),
    GOLD_FUNNEL_DAILY.name: ("event_date", "platform"),
    GOLD_REVENUE_DAILY.name: ("event_date", "product_id", "country_code", "platform", "currency"),
    GOLD_APP_ERRORS_DAILY.name: ("event_date", "platform", "app_version"),
}
# (A, B): A >= B in every row.
GOLD_ORDERINGS: dict[str, tuple[tuple[str, str], ...]] = {
    GOLD_DAILY_ACTIVE_USERS.name: (("wau", "dau"),),
    GOLD_SESSIONS.name: (
        ("ended_at", "started_at"),
        ("event_count", "page_views"),
        ("event_count", "screen_views"),
    ),
    GOLD_SESSIONS_DAILY.name: (
        ("sessions", "converted_sessions"),
        ("sessions", "bounced_sessions"),
        ("sessions", "users"),
    ),
    GOLD_FUNNEL_DAILY.name: (("viewers", "carted"), ("carted", "purchased")),
    GOLD_REVENUE_DAILY.name: (("units", "orders"),),
    GOLD_APP_ERRORS_DAILY.name: (("events", "errors"), ("errors", "fatal_errors")),
}
NUMERIC_TYPES = ("bigint", "double")
ISO_COUNTRY = r"^[A-Z]{2}$"


def _is_numeric(column: Column) -> bool:
    return column.sql_type in NUMERIC_TYPES or column.sql_type.startswith("decimal")


def _platforms(table: str) -> list[str]:
    platforms = list(_catalog_by_path()["device.platform"].enum)
    return [*platforms, ALL_PLATFORMS] if table == GOLD_DAILY_ACTIVE_USERS.name else platforms


def _gold_column_rules(spec: TableSpec, column: Column) -> list[Rule]:
    rules: list[Rule] = []
    if not column.nullable:
        rules.append(
            Rule("expect_column_values_to_not_be_null", {"column": column.name}, "declared NOT NULL in gold")
        )
    if column.name.endswith("_rate"):
        rules.append(
            Rule(
                "expect_column_values_to_be_between",
                {"column": column.name, "min_value": 0, "max_value": 1},
                "a rate is a fraction",
            )
        )
    elif _is_numeric(column):
        rules.append(
            Rule(
                "expect_column_values_to_be_between",
                {"column": column.name, "min_value": 0},
                "counts, durations and money are never negative",
            )
        )
    if column.name == "platform":
        rules.append(
            Rule(
                "expect_column_values_to_be_in_set",
                {"column": "platform", "value_set": _platforms(spec.name)},
                "device.platform enum of the contract",
            )
        )
    elif column.name == "country_code":
        rules.append(
            Rule(
                "expect_column_values_to_match_regex",
                {"column": "country_code", "regex": ISO_COUNTRY},
                "ISO 3166-1 alpha-2 (ZZ when unknown)",
            )
        )
    elif column.name == "currency":
        currencies = list(_catalog_by_path()["properties.currency"].enum)
        rules.append(
            Rule(
                "expect_column_values_to_be_in_set",
                {"column": "currency", "value_set": currencies},
                "ISO 4217 currencies of the contract",
            )
        )
    return rules


def gold_suite(spec: TableSpec) -> SuiteSpec:
    columns = gold_columns(spec)
    rules = [
        Rule(
            "expect_table_columns_to_match_ordered_list",
            {"column_list": [c.name for c in columns]},
            "the table has edp.lake.gold's columns in order",
        ),
    ]
    for column in columns:
        rules.extend(_gold_column_rules(spec, column))
    rules.append(
        Rule(
            "expect_compound_columns_to_be_unique",
            {"column_list": list(GOLD_KEYS[spec.name])},
            "one row per grain",
        )
    )
    rules += [
        Rule(
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": a, "column_B": b, "or_equal": True},
            f"{b} never exceeds {a}",
        )
        for a, b in GOLD_ORDERINGS[spec.name]
    ]
    return SuiteSpec(spec.name, Layer.GOLD, spec.name, spec.description, tuple(rules), GOLD_KEYS[spec.name])


RECONCILIATION = "gold.reconciliation"
RECONCILIATION_METRICS = ("events", "app_errors", "dau", "units", "revenue_cents")
RECONCILIATION_INDEX = ("metric", "event_date", "dimension")


def reconciliation_suite() -> SuiteSpec:
    rules = (
        Rule(
            "expect_column_values_to_be_in_set",
            {"column": "metric", "value_set": list(RECONCILIATION_METRICS)},
            "known metrics only",
        ),
        *[
            Rule("expect_column_values_to_not_be_null", {"column": c}, "both sides computed")
            for c in ("gold_value", "silver_min", "silver_max")
        ],
        Rule(
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "gold_value", "column_B": "silver_min", "or_equal": True},
            "gold counts at least the silver rows that existed before the gold build ran",
        ),
        Rule(
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "silver_max", "column_B": "gold_value", "or_equal": True},
            "gold counts at most what silver holds now",
        ),
    )
    return SuiteSpec(
        RECONCILIATION,
        Layer.GOLD,
        "gold vs silver.events",
        "Gold totals per date and currency recomputed from silver (see edp.quality.reconcile).",
        rules,
        RECONCILIATION_INDEX,
    )


def all_suites() -> list[SuiteSpec]:
    return [
        bronze_suite(),
        silver_suite(),
        *[gold_suite(s) for s in GOLD_TABLES.values()],
        reconciliation_suite(),
    ]


def suites_of(layer: Layer | str) -> list[SuiteSpec]:
    return [s for s in all_suites() if s.layer == Layer(layer)]


def parameters_used(suites: Sequence[SuiteSpec]) -> set[str]:
    found: set[str] = set()
    for suite in suites:
        for rule in suite.rules:
            found.update(
                v["$PARAMETER"] for v in rule.kwargs.values() if isinstance(v, dict) and "$PARAMETER" in v
            )
    return found
