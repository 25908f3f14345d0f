"""The expectation suites are derived from the event contract and lake_layout, not written per field."""

from __future__ import annotations

import pytest

from edp.contract import EVENT_TYPES, field_catalog
from edp.lake import silver_columns
from edp.lake.columns import PII_HASH
from edp.lake.gold import GOLD_TABLES, gold_columns
from edp.quality.suites import (
    GOLD_KEYS,
    RECONCILIATION,
    SHA256_HEX,
    Layer,
    Rule,
    all_suites,
    bronze_suite,
    gold_suite,
    parameters_used,
    silver_frame_columns,
    silver_suite,
    suites_of,
)

pytestmark = pytest.mark.unit


def rules_of(suite, expectation_type: str) -> list[Rule]:
    return [r for r in suite.rules if r.type == expectation_type]


def columns_of(suite, expectation_type: str) -> set[str]:
    return {r.kwargs["column"] for r in rules_of(suite, expectation_type)}


def test_every_required_silver_column_has_a_not_null_expectation() -> None:
    required = {c.name for c in silver_columns() if not c.nullable}
    assert required and columns_of(silver_suite(), "expect_column_values_to_not_be_null") == required


def test_every_contract_enum_becomes_an_in_set_expectation_with_the_contract_values() -> None:
    suite = silver_suite()
    in_set = {
        r.kwargs["column"]: r.kwargs["value_set"]
        for r in rules_of(suite, "expect_column_values_to_be_in_set")
    }
    assert in_set["event_type"] == list(EVENT_TYPES)
    enums = {f.path: f.enum for f in field_catalog() if f.enum and "[]" not in f.path}
    for column in silver_columns():
        if column.source_path in enums:
            assert in_set[column.name] == list(enums[column.source_path]), column.name


def test_hashed_pii_columns_must_look_like_sha256_and_lengths_follow_the_contract() -> None:
    suite = silver_suite()
    regexes = {
        r.kwargs["column"]: r.kwargs["regex"] for r in rules_of(suite, "expect_column_values_to_match_regex")
    }
    hashed = [c.name for c in silver_columns() if c.pii == PII_HASH]
    assert hashed and all(regexes[name] == SHA256_HEX for name in hashed)
    lengths = {
        r.kwargs["column"]: r.kwargs["max_value"]
        for r in rules_of(suite, "expect_column_value_lengths_to_be_between")
    }
    catalog = {f.path: f for f in field_catalog()}
    assert lengths["session_id"] == catalog["session_id"].max_length
    assert "user_id" not in lengths  # hashed: the regex already fixes the length


def test_silver_checks_identity_schema_and_time_bounds() -> None:
    suite = silver_suite()
    assert columns_of(suite, "expect_column_values_to_be_unique") == {"event_id"}
    (schema,) = rules_of(suite, "expect_table_columns_to_match_set")
    assert schema.kwargs["column_set"] == silver_frame_columns() and schema.kwargs["exact_match"]
    between = columns_of(suite, "expect_column_values_to_be_between")
    assert {"occurred_at", "occurred_lag_seconds"} <= between
    assert parameters_used([suite]) == {"occurred_floor", "occurred_ceiling"}


def test_bronze_guards_volume_arrival_and_missing_payloads() -> None:
    suite = bronze_suite()
    assert rules_of(suite, "expect_table_row_count_to_be_between")[0].kwargs["min_value"] == {
        "$PARAMETER": "min_rows"
    }
    assert {"data_bytes", "sequence_number"} <= columns_of(suite, "expect_column_values_to_not_be_null")
    assert "approximate_arrival_timestamp" in columns_of(suite, "expect_column_values_to_be_between")


@pytest.mark.parametrize("table", sorted(GOLD_TABLES))
def test_gold_measures_are_non_negative_rates_are_fractions_and_keys_are_unique(table: str) -> None:
    suite = gold_suite(GOLD_TABLES[table])
    bounds = {
        r.kwargs["column"]: (r.kwargs.get("min_value"), r.kwargs.get("max_value"))
        for r in rules_of(suite, "expect_column_values_to_be_between")
    }
    for column in gold_columns(GOLD_TABLES[table]):
        if column.name.endswith("_rate"):
            assert bounds[column.name] == (0, 1)
        elif column.sql_type in ("bigint", "double") or column.sql_type.startswith("decimal"):
            assert bounds[column.name] == (0, None), column.name
    (unique,) = rules_of(suite, "expect_compound_columns_to_be_unique")
    assert unique.kwargs["column_list"] == list(GOLD_KEYS[table])
    assert suite.index_columns == GOLD_KEYS[table]


def test_gold_reconciles_with_silver_in_both_directions() -> None:
    (suite,) = [s for s in suites_of(Layer.GOLD) if s.name == RECONCILIATION]
    pairs = [
        (r.kwargs["column_A"], r.kwargs["column_B"])
        for r in rules_of(suite, "expect_column_pair_values_a_to_be_greater_than_b")
    ]
    assert pairs == [("gold_value", "silver_min"), ("silver_max", "gold_value")]


def test_suite_names_are_unique_and_cover_every_layer_and_gold_table() -> None:
    names = [s.name for s in all_suites()]
    assert len(names) == len(set(names))
    assert {"bronze.events", "silver.events", RECONCILIATION, *GOLD_TABLES} == set(names)
    assert {s.layer for s in all_suites()} == set(Layer)


def test_rules_are_named_after_their_expectation_and_columns_for_alerts() -> None:
    assert Rule("expect_column_values_to_not_be_null", {"column": "user_id"}).describe() == (
        "expect_column_values_to_not_be_null(user_id)"
    )
    assert Rule(
        "expect_column_pair_values_a_to_be_greater_than_b", {"column_A": "wau", "column_B": "dau"}
    ).describe() == ("expect_column_pair_values_a_to_be_greater_than_b(wau, dau)")
