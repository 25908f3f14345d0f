"""When the supervisor records bronze/silver asset events: only for a silver commit in its interval."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edp.stream.supervision.lake_updates import stream_wrote_since

pytestmark = pytest.mark.unit

TICK = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def verdict(committed_at: str | None, *, batch_id: int | None = 41) -> dict:
    return {
        "status": "healthy",
        "reasons": [],
        "facts": {
            "silver_committed_at": committed_at,
            "metrics": {"batch_id": batch_id, "num_input_rows": 120},
        },
    }


def test_a_silver_commit_after_the_interval_start_becomes_the_event_extra() -> None:
    extra = stream_wrote_since(verdict("2026-11-25T12:01:30+00:00"), TICK)
    assert extra == {
        "silver_committed_at": "2026-11-25T12:01:30+00:00",
        "batch_id": 41,
        "num_input_rows": 120,
        "status": "healthy",
    }


def test_a_silver_commit_before_the_interval_records_nothing() -> None:
    assert stream_wrote_since(verdict("2026-11-25T11:59:59+00:00"), TICK) is None


def test_no_silver_table_yet_records_nothing() -> None:
    assert stream_wrote_since(verdict(None), TICK) is None
    assert stream_wrote_since({"status": "unhealthy", "reasons": ["not running"], "facts": {}}, TICK) is None


def test_a_naive_commit_time_is_read_as_utc() -> None:
    assert stream_wrote_since(verdict("2026-11-25T12:00:00"), TICK) is not None
