"""The load plan: which interval a serving run covers, which partitions, which versions; names and ids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import deltalake
import pyarrow as pa
import pytest

from edp.config import get_config
from edp.lake import SILVER_EVENTS
from edp.lake.gold import GOLD_DAILY_ACTIVE_USERS, GOLD_REVENUE_DAILY, GOLD_SESSIONS
from edp.lake.intervals import parse_interval
from edp.serving.arrow_schemas import silver_arrow_schema
from edp.serving.bi import SPICE_INGESTION_ID
from edp.serving.names import safe_id
from edp.serving.plan import LoadPlan, NoIntervalError, build_plan, interval_from_context

pytestmark = pytest.mark.unit


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def asset_event(start: str | None, end: str | None, *, extra: dict | None = None, conf: dict | None = None):
    run = SimpleNamespace(
        data_interval_start=at(start) if start else None,
        data_interval_end=at(end) if end else None,
        conf=conf,
    )
    return SimpleNamespace(extra=extra or {}, source_dag_run=run)


def test_explicit_params_win_over_everything() -> None:
    context = {"triggering_asset_events": {"gold": [asset_event("2025-06-01 10:00", "2025-06-01 11:00")]}}
    interval = interval_from_context(
        context, {"interval_start": "2025-05-01", "interval_end": "2025-05-02T00:00:00Z"}
    )
    assert (interval.start, interval.end) == (at("2025-05-01 00:00"), at("2025-05-02 00:00"))


def test_an_asset_triggered_run_takes_the_union_of_the_gold_runs_intervals() -> None:
    events = [
        asset_event("2025-06-01 10:00", "2025-06-01 11:00"),
        asset_event("2025-06-01 11:00", "2025-06-01 12:00"),
    ]
    interval = interval_from_context({"triggering_asset_events": {"a": events[:1], "b": events[1:]}}, {})
    assert (interval.start, interval.end) == (at("2025-06-01 10:00"), at("2025-06-01 12:00"))


def test_an_interval_in_the_asset_event_extra_wins_over_the_source_run() -> None:
    event = asset_event(
        "2025-06-01 10:00",
        "2025-06-01 11:00",
        extra={"interval_start": "2025-06-03T00:00:00+00:00", "interval_end": "2025-06-04T00:00:00+00:00"},
    )
    interval = interval_from_context({"triggering_asset_events": {"a": [event]}}, {})
    assert interval.start == at("2025-06-03 00:00")


def test_a_backfill_run_without_a_data_interval_covers_its_whole_days() -> None:
    event = asset_event(
        "2025-06-05 09:00", "2025-06-05 09:00", conf={"start_date": "2025-06-01", "end_date": "2025-06-03"}
    )
    interval = interval_from_context({"triggering_asset_events": {"a": [event]}}, {})
    assert (interval.start, interval.end) == (at("2025-06-01 00:00"), at("2025-06-04 00:00"))


def test_a_run_with_no_interval_anywhere_is_refused_with_guidance() -> None:
    with pytest.raises(NoIntervalError, match="interval_start"):
        interval_from_context(
            {"data_interval_start": at("2025-06-01 00:00"), "data_interval_end": at("2025-06-01 00:00")}, {}
        )
    with pytest.raises(NoIntervalError, match="both"):
        interval_from_context({}, {"interval_start": "2025-06-01"})


def test_the_plan_adds_late_rows_dates_and_pins_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATFORM__LAKE__ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path / "state"))
    config = get_config()
    schema = silver_arrow_schema()
    rows = []
    for occurred, ingested in (
        ("2025-06-01 10:10", "2025-06-01 10:11"),
        ("2025-05-20 08:00", "2025-06-01 10:30"),
        ("2025-05-25 08:00", "2025-05-25 08:01"),
    ):
        row = {f.name: None for f in schema}
        row.update(occurred_at=at(occurred), ingested_at=at(ingested), event_date=at(occurred).date())
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=schema.remove_metadata()).cast(
        pa.schema([f.with_nullable(True) for f in schema])
    )
    deltalake.write_deltalake(SILVER_EVENTS.path(config.lake.root), table, partition_by=["event_date"])

    plan = build_plan(
        config,
        parse_interval("2025-06-01T10:00:00Z", "2025-06-01T11:00:00Z"),
        "scheduled__2025-06-01T10:00:00+00:00",
    )

    assert plan.affected == (date(2025, 5, 20), date(2025, 6, 1))  # 05-25 was ingested long before
    assert plan.dates_of(GOLD_REVENUE_DAILY.name) == plan.affected
    assert date(2025, 5, 19) in plan.dates_of(GOLD_SESSIONS.name)  # sessions look one day around
    assert date(2025, 5, 26) in plan.dates_of(GOLD_DAILY_ACTIVE_USERS.name)  # WAU of the 6 following days
    assert plan.silver.version == 0 and plan.gold[GOLD_REVENUE_DAILY.name].version is None
    assert plan.load_id == "scheduled__2025-06-01T10-00-00-00-00"
    assert plan.export_uri == f"{config.state_dir}/warehouse/exports/{plan.load_id}"
    assert LoadPlan.from_dict(plan.to_dict()) == plan
    assert plan.to_dict()["interval_start_utc"] == "2025-06-01 10:00:00"


def test_a_plan_from_another_format_is_refused() -> None:
    with pytest.raises(ValueError, match="not a load plan"):
        LoadPlan.from_dict({"format": "something/v9"})


def test_ids_for_s3_keys_and_quicksight_are_sanitised_and_bounded() -> None:
    assert safe_id("manual__2025-06-01T10:00:00+00:00") == "manual__2025-06-01T10-00-00-00-00"
    assert safe_id("a'; DROP TABLE x; --") == "a-DROP-TABLE-x"
    assert len(safe_id("x" * 500, 100)) == 100
    assert "safe_id(100)" in SPICE_INGESTION_ID and "try_number" in SPICE_INGESTION_ID
