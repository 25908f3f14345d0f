"""The demo's reconciliation checks: they pass on agreeing figures and fail, with both numbers, otherwise."""

from __future__ import annotations

from decimal import Decimal

import pytest

from edp_local.demo import reconcile
from edp_local.demo.reconcile import TableFigures

pytestmark = pytest.mark.unit


def by_name(checks: list[reconcile.Check]) -> dict[str, reconcile.Check]:
    return {check.name: check for check in checks}


@pytest.fixture
def traffic() -> dict:
    return {
        "sent": 1030,
        "accepted": 1000,
        "rejected": 28,
        "duplicates_reported_by_api": 2,
        "failed_requests": 0,
        "valid_not_accepted": 0,
    }


def test_send_accounting_passes_when_every_sent_event_has_an_answer(traffic: dict) -> None:
    assert reconcile.failed(reconcile.send_accounting(traffic)) == []


def test_an_event_without_an_answer_fails_send_accounting_with_both_numbers(traffic: dict) -> None:
    traffic["accepted"] = 999
    check = reconcile.send_accounting(traffic)[0]
    assert not check.passed
    assert (check.expected, check.actual) == (1030, 1029)


def test_a_request_that_never_got_an_answer_fails(traffic: dict) -> None:
    traffic["failed_requests"] = 1
    assert [c.name for c in reconcile.failed(reconcile.send_accounting(traffic))] == [
        "every request got a final answer"
    ]


def test_silver_with_exactly_the_expected_ids_passes() -> None:
    ids = {"a", "b", "c"}
    assert reconcile.failed(reconcile.silver_matches_expected(ids, set(ids), 3)) == []


def test_silver_missing_an_event_fails_and_names_it() -> None:
    checks = by_name(reconcile.silver_matches_expected({"a", "b", "c"}, {"a", "b"}, 2))
    rows = checks["silver rows = valid unique events accepted"]
    assert (rows.passed, rows.expected, rows.actual) == (False, 3, 2)
    ids = checks["silver event_ids = the expected id set"]
    assert not ids.passed
    assert "1 expected ids missing from silver: c" in ids.detail


def test_silver_with_the_right_count_but_a_foreign_id_fails() -> None:
    checks = by_name(reconcile.silver_matches_expected({"a", "b"}, {"a", "x"}, 2))
    assert checks["silver rows = valid unique events accepted"].passed
    ids = checks["silver event_ids = the expected id set"]
    assert not ids.passed
    assert "silver ids never sent as valid: x" in ids.detail


def test_silver_holding_an_event_twice_fails_the_row_count() -> None:
    checks = by_name(reconcile.silver_matches_expected({"a", "b"}, {"a", "b"}, 3))
    assert not checks["silver rows = valid unique events accepted"].passed


def test_bronze_may_hold_more_records_than_accepted_but_not_fewer() -> None:
    ids = {"a", "b"}
    assert reconcile.failed(reconcile.bronze_holds_accepted(3, 4, ids, ids)) == []
    short = reconcile.bronze_holds_accepted(3, 2, ids, ids)[0]
    assert (short.passed, short.expected, short.actual) == (False, ">= 3", 2)


def test_bronze_missing_an_expected_id_fails_even_with_enough_rows() -> None:
    checks = by_name(reconcile.bronze_holds_accepted(2, 5, {"a"}, {"a", "b"}))
    assert not checks["bronze holds every expected event_id"].passed


def test_quarantine_must_hold_every_rejected_event_with_a_reason() -> None:
    assert reconcile.failed(reconcile.quarantine_holds_rejected(5, 5, 5)) == []
    lost = by_name(reconcile.quarantine_holds_rejected(5, 4, 4))
    assert not lost["ingest quarantine holds every rejected event"].passed
    unexplained = by_name(reconcile.quarantine_holds_rejected(5, 5, 3))
    assert not unexplained["every quarantined event carries a reason"].passed


def test_per_day_figures_must_agree_on_every_day() -> None:
    same = reconcile.per_day_equal(
        "events", {"2025-06-01": 3, "2025-06-02": 4}, {"2025-06-02": 4, "2025-06-01": 3}
    )
    assert same.passed and same.expected == same.actual == 7


def test_per_day_figures_with_equal_totals_but_shifted_days_fail() -> None:
    check = reconcile.per_day_equal(
        "events", {"2025-06-01": 3, "2025-06-02": 4}, {"2025-06-01": 4, "2025-06-02": 3}
    )
    assert not check.passed
    assert check.expected == check.actual == 7
    assert "2 of 2 days differ" in check.detail


def test_a_day_missing_from_gold_fails() -> None:
    check = reconcile.per_day_equal("events", {"2025-06-01": 3, "2025-05-31": 1}, {"2025-06-01": 3})
    assert not check.passed
    assert "2025-05-31: 1 vs 0" in check.detail


def test_revenue_is_compared_exactly_as_decimals() -> None:
    pairs = {"revenue": ({"2025-06-01": Decimal("10.01")}, {"2025-06-01": Decimal("10.00")})}
    (check,) = reconcile.gold_reconciles(pairs)
    assert not check.passed
    assert check.to_dict()["expected"] == "10.01"


def test_warehouse_matching_gold_passes_and_a_differing_sum_fails() -> None:
    gold = {"gold.revenue_daily": TableFigures(4, "revenue", Decimal("99.50"))}
    assert reconcile.failed(reconcile.warehouse_matches_gold(gold, dict(gold))) == []
    other = {"gold.revenue_daily": TableFigures(4, "revenue", Decimal("90.50"))}
    failed = reconcile.failed(reconcile.warehouse_matches_gold(gold, other))
    assert [c.name for c in failed] == ["warehouse vs gold.revenue_daily: sum(revenue)"]
    assert (failed[0].expected, failed[0].actual) == (Decimal("99.50"), Decimal("90.50"))


def test_a_fact_table_that_was_never_loaded_fails() -> None:
    gold = {"gold.sessions": TableFigures(2, "event_count", 7)}
    (check,) = reconcile.warehouse_matches_gold(gold, {"gold.sessions": None})
    assert not check.passed


def record(layer: str, *suites: tuple[str, bool]) -> dict:
    return {"layer": layer, "suites": [{"suite": name, "success": ok} for name, ok in suites]}


def test_quality_passes_when_every_layer_ran_and_passed() -> None:
    records = [
        record("bronze", ("bronze.events", True)),
        record("silver", ("silver.events", True)),
        record("gold", ("gold.sessions", True)),
    ]
    assert reconcile.failed(reconcile.quality_passed(records)) == []


def test_a_failed_suite_fails_quality_and_is_named() -> None:
    records = [
        record("bronze", ("bronze.events", True)),
        record("silver", ("silver.events", False)),
        record("gold", ("gold.sessions", True)),
    ]
    (check,) = reconcile.failed(reconcile.quality_passed(records))
    assert (check.expected, check.actual) == (3, 2)
    assert "silver.events" in check.detail


def test_no_quality_records_at_all_fails() -> None:
    assert len(reconcile.failed(reconcile.quality_passed([]))) == 2


def test_a_layer_without_a_gate_run_fails() -> None:
    checks = by_name(reconcile.quality_passed([record("bronze", ("bronze.events", True))]))
    assert not checks["quality gates ran for every layer"].passed
    assert "silver, gold" in checks["quality gates ran for every layer"].detail


def test_every_dag_must_have_run_successfully() -> None:
    runs = [{"dag_id": "gold_build", "state": "success"}, {"dag_id": "warehouse_load", "state": "success"}]
    assert reconcile.failed(reconcile.dag_runs_succeeded(runs, ["gold_build", "warehouse_load"])) == []
    missing = by_name(reconcile.dag_runs_succeeded(runs, ["gold_build", "warehouse_load", "lake_vacuum"]))
    assert not missing["every DAG ran"].passed
    assert missing["every DAG ran"].detail == "lake_vacuum"


def test_a_failed_dag_run_fails_even_when_the_dag_also_succeeded_once() -> None:
    runs = [{"dag_id": "warehouse_load", "state": "success"}, {"dag_id": "warehouse_load", "state": "failed"}]
    check = by_name(reconcile.dag_runs_succeeded(runs, ["warehouse_load"]))["every DAG run succeeded"]
    assert (check.passed, check.expected, check.actual) == (False, 2, 1)
    assert "warehouse_load (failed)" in check.detail
