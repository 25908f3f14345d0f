"""Which partitions each batch job touches for a data interval: pure date arithmetic, no Spark."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from edp.lake.intervals import (
    GoldPlan,
    Interval,
    closed_dates,
    day_interval,
    in_dates_predicate,
    ingest_event_date_bounds,
    interval_dates,
    parse_instant,
    parse_interval,
)

pytestmark = pytest.mark.unit


def d(day: int, month: int = 6) -> date:
    return date(2025, month, day)


def test_instants_parse_from_airflow_templates_dates_and_z_suffixes() -> None:
    expected = datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert parse_instant("2025-06-01T10:00:00+00:00") == expected
    assert parse_instant("2025-06-01 12:00:00+02:00") == expected
    assert parse_instant("2025-06-01T10:00:00Z") == expected
    assert parse_instant("2025-06-01") == datetime(2025, 6, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_instant("yesterday")


def test_an_empty_or_reversed_interval_is_rejected() -> None:
    with pytest.raises(ValueError, match="empty interval"):
        parse_interval("2025-06-02", "2025-06-01")
    with pytest.raises(ValueError, match="no time zone"):
        Interval(datetime(2025, 6, 1), datetime(2025, 6, 2))  # noqa: DTZ001 - the case under test


def test_an_hourly_interval_covers_one_date_and_closes_none() -> None:
    hour = parse_interval("2025-06-01T23:00:00Z", "2025-06-02T00:00:00Z")
    assert interval_dates(hour) == [d(1)]
    assert closed_dates(hour) == [d(1)]  # it ends exactly at midnight: day 1 is over
    mid_day = parse_interval("2025-06-01T10:00:00Z", "2025-06-01T11:00:00Z")
    assert interval_dates(mid_day) == [d(1)] and closed_dates(mid_day) == []


def test_the_daily_compaction_interval_closes_only_the_previous_day() -> None:
    interval = parse_interval("2025-06-01T03:00:00Z", "2025-06-02T03:00:00Z")
    assert interval_dates(interval) == [d(1), d(2)]
    assert closed_dates(interval) == [d(1)]


def test_a_backfill_day_range_is_whole_utc_days() -> None:
    interval = day_interval(d(1), d(3))
    assert str(interval) == "[2025-06-01T00:00:00+00:00, 2025-06-04T00:00:00+00:00)"
    assert interval_dates(interval) == [d(1), d(2), d(3)]


def test_late_row_lookup_spans_the_contracts_lateness_window() -> None:
    first, last = ingest_event_date_bounds(parse_interval("2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"))
    assert first == d(10, 5)  # 30 days MAX_EVENT_AGE + 1 day margin before the start
    assert last == d(12)  # 24 h MAX_CLOCK_SKEW + 1 day margin


def test_the_gold_plan_widens_late_dates_for_sessions_and_weekly_actives() -> None:
    hour = parse_interval("2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z")
    plan = GoldPlan.build(hour, late_dates=[d(7)], newest_silver_date=d(10))

    assert plan.affected == (d(7), d(10))
    assert plan.daily == (d(7), d(10))
    assert plan.sessions == (d(6), d(7), d(8), d(9), d(10), d(11))
    # day 7's events count in the WAU of days 7..13, but nothing after the newest silver date exists
    assert plan.active_users == (d(7), d(8), d(9), d(10))
    assert plan.read_window == (d(1), d(12))


def test_the_gold_plan_of_a_quiet_hour_is_its_own_date() -> None:
    hour = parse_interval("2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z")
    plan = GoldPlan.build(hour, late_dates=[], newest_silver_date=None)
    assert plan.daily == (d(10),) and plan.active_users == (d(10),)
    assert plan.to_dict()["sessions"] == ["2025-06-09", "2025-06-10", "2025-06-11"]


def test_partition_predicates_list_sorted_unique_sql_dates() -> None:
    assert in_dates_predicate("event_date", [d(2), d(1), d(2)]) == (
        "event_date IN (DATE'2025-06-01', DATE'2025-06-02')"
    )
    with pytest.raises(ValueError, match="no dates"):
        in_dates_predicate("event_date", [])


def test_every_gold_table_knows_which_plan_dates_it_rebuilds() -> None:
    from edp.lake.gold import GOLD_TABLES

    hour = parse_interval("2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z")
    plan = GoldPlan.build(hour, late_dates=[d(8)], newest_silver_date=d(10))
    assert plan.dates_for("gold.daily_active_users") == plan.active_users
    assert plan.dates_for("gold.sessions") == plan.dates_for("gold.sessions_daily") == plan.sessions
    assert plan.dates_for("gold.revenue_daily") == plan.daily
    assert all(plan.dates_for(name) for name in GOLD_TABLES)
    with pytest.raises(KeyError, match="no gold table"):
        plan.dates_for("silver.events")
