"""The contract check the streaming job runs on every Kinesis record (pure Python, no Spark)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edp.stream.records import ReasonCode, check_record
from tests.events import envelopes

pytestmark = pytest.mark.unit


def test_a_valid_record_comes_back_as_canonical_json_with_its_event_date() -> None:
    event = envelopes.purchase(event_id="0F8FAD5B-D9CB-469F-A165-70867728950E")
    event["occurred_at"] = "2025-06-01T01:30:00.5+02:00"  # 2025-05-31 in UTC
    event["properties"]["items"][0]["quantity"] = 2.0  # JSON Schema's integer, not Spark's

    result = check_record(envelopes.record(event))

    assert (result.reason_code, result.reason) == (None, None)
    parsed = json.loads(result.envelope_json)
    assert parsed["event"]["event_id"] == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert parsed["event"]["occurred_at"] == "2025-05-31T23:30:00.500000Z"
    assert parsed["meta"]["received_at"] == "2025-06-01T12:00:00.123000Z"
    assert type(parsed["event"]["properties"]["items"][0]["quantity"]) is int
    assert (result.event_id, result.event_type, result.event_date) == (
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "purchase",
        "2025-05-31",
    )


def _without_meta(event: dict) -> bytes:
    return json.dumps({"event": event}).encode()


def _with_bad_meta(event: dict) -> bytes:
    envelope = envelopes.envelope(event)
    envelope["meta"]["api_version"] = "v9"
    return json.dumps(envelope).encode()


def _event_with(**changes: object) -> dict:
    event = envelopes.page_view()
    event.update(changes)
    return event


@pytest.mark.parametrize(
    ("payload", "code", "reason_part"),
    [
        (b"{not json", ReasonCode.UNPARSEABLE_JSON, "not valid UTF-8 JSON"),
        (b"\xff\xfe{}", ReasonCode.UNPARSEABLE_JSON, "not valid UTF-8 JSON"),
        (b"[1, 2]", ReasonCode.INVALID_ENVELOPE, "must be a JSON object"),
        (_without_meta(envelopes.page_view()), ReasonCode.INVALID_ENVELOPE, "keys must be exactly"),
        (_with_bad_meta(envelopes.page_view()), ReasonCode.INVALID_ENVELOPE, "meta.api_version"),
        (envelopes.record(_event_with(event_type="teleport")), ReasonCode.UNKNOWN_EVENT_TYPE, "teleport"),
        (envelopes.record(_event_with(event_type=None)), ReasonCode.UNKNOWN_EVENT_TYPE, "event_type"),
        (envelopes.record(_event_with(session_id="")), ReasonCode.SCHEMA_VIOLATION, "session_id"),
        (
            envelopes.record(envelopes.page_view(occurred_at=envelopes.RECEIVED_AT - timedelta(days=31))),
            ReasonCode.LATE_EVENT,
            "older than 30 days",
        ),
        (
            envelopes.record(envelopes.page_view(occurred_at=envelopes.RECEIVED_AT + timedelta(hours=25))),
            ReasonCode.FUTURE_EVENT,
            "in the future",
        ),
    ],
)
def test_invalid_records_get_a_reason_code_and_a_readable_reason(
    payload: bytes, code: ReasonCode, reason_part: str
) -> None:
    result = check_record(payload)

    assert result.reason_code == code.value
    assert reason_part in result.reason
    assert result.envelope_json is None


def test_an_event_29_days_old_is_within_the_lateness_bound() -> None:
    result = check_record(
        envelopes.record(envelopes.page_view(occurred_at=envelopes.RECEIVED_AT - timedelta(days=29)))
    )

    assert result.reason_code is None
    assert result.event_date == "2025-05-03"


def test_a_rejected_record_keeps_its_event_id_and_type_when_readable() -> None:
    event = envelopes.purchase(event_id="0f8fad5b-d9cb-469f-a165-70867728950e")
    event["properties"]["currency"] = "XXX"

    result = check_record(envelopes.record(event))

    assert (result.reason_code, result.event_id, result.event_type) == (
        "schema_violation",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "purchase",
    )


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.none()))
def test_arbitrary_bytes_are_rejected_never_raised(payload: bytes | None) -> None:
    result = check_record(payload)

    assert result.reason_code in {code.value for code in ReasonCode}
