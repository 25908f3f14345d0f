"""Validation of one Kinesis record's payload against the event contract (pure Python).

The streaming job runs :func:`check_record` on every record in a Python UDF: the very validators the
ingest Lambda uses (``event_contract``), so silver accepts exactly what the contract accepts, even from
producers that bypass the Lambda. A valid record comes back as canonical JSON for ``from_json``:
integral floats at integer fields made ints, ``event_id`` lower-cased (uuids compare case-insensitively,
and dedup is by ``event_id``), both timestamps rewritten in UTC with microseconds.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from edp.contract import (
    EVENT_TYPES,
    MAX_EVENT_AGE,
    envelope_schema,
    normalize_event,
    parse_timestamp,
    schema_errors,
    time_window_error,
)

_MAX_REASON_CHARS = 1000
_ENVELOPE_KEYS = frozenset({"event", "meta"})


class ReasonCode(enum.StrEnum):
    """Why a record went to ``quarantine.events`` instead of silver."""

    UNPARSEABLE_JSON = "unparseable_json"  # not UTF-8 or not JSON
    INVALID_ENVELOPE = "invalid_envelope"  # not {"event": ..., "meta": ...} or meta violates its schema
    UNKNOWN_EVENT_TYPE = "unknown_event_type"  # event_type missing or not one of the contract's types
    SCHEMA_VIOLATION = "schema_violation"  # the event violates its event type's JSON Schema
    LATE_EVENT = "late_event"  # occurred_at older than MAX_EVENT_AGE before meta.received_at
    FUTURE_EVENT = "future_event"  # occurred_at more than MAX_CLOCK_SKEW after meta.received_at


@dataclasses.dataclass(frozen=True)
class RecordCheck:
    """Outcome for one record: ``reason_code is None`` means valid and ``envelope_json`` is set."""

    reason_code: str | None = None
    reason: str | None = None
    envelope_json: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    event_date: str | None = None  # YYYY-MM-DD of occurred_at in UTC, for valid records


@lru_cache(maxsize=1)
def _meta_validator() -> Any:
    import fastjsonschema  # noqa: PLC0415 - compiled once per Python worker

    return fastjsonschema.compile(
        envelope_schema()["properties"]["meta"], use_default=False, use_formats=False, fast_fail=False
    )


def canonical_timestamp(moment: datetime) -> str:
    """UTC with microseconds and ``Z``: one spelling Spark parses identically in every session time zone."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 3] + "..."


def _reject(code: ReasonCode, reason: str, event: Any = None) -> RecordCheck:
    event_id = event_type = None
    if isinstance(event, dict):
        raw_id, raw_type = event.get("event_id"), event.get("event_type")
        event_id = raw_id[:64] if isinstance(raw_id, str) else None
        event_type = raw_type[:64] if isinstance(raw_type, str) else None
    return RecordCheck(code.value, _clip(reason), None, event_id, event_type)


def _decode(data: bytes | None) -> tuple[Any, RecordCheck | None]:
    if data is None:
        return None, _reject(ReasonCode.UNPARSEABLE_JSON, "record has no data")
    try:
        return orjson.loads(data), None
    except orjson.JSONDecodeError as exc:
        return None, _reject(ReasonCode.UNPARSEABLE_JSON, f"not valid UTF-8 JSON: {exc}")


def _envelope_error(decoded: Any) -> str | None:
    if not isinstance(decoded, dict):
        return "record: must be a JSON object with 'event' and 'meta'"
    if set(decoded) != _ENVELOPE_KEYS:
        return f"record: keys must be exactly 'event' and 'meta', got {sorted(decoded)[:10]}"
    from fastjsonschema import JsonSchemaValuesException  # noqa: PLC0415 - loaded with the validator

    try:
        _meta_validator()(decoded["meta"])
    except JsonSchemaValuesException as exc:
        return "; ".join(
            f"meta{e.name.removeprefix('data')}: {e.message.removeprefix(e.name).strip()}"
            for e in exc.errors[:10]
        )
    if parse_timestamp(decoded["meta"]["received_at"]) is None:
        return "meta.received_at: not a valid RFC 3339 date-time"
    return None


def _window_check(event: dict[str, Any], received_at: datetime) -> RecordCheck | None:
    message = time_window_error(event["occurred_at"], received_at)
    if message is None:
        return None
    occurred = parse_timestamp(event["occurred_at"])
    if occurred is None:
        return _reject(ReasonCode.SCHEMA_VIOLATION, message, event)
    code = ReasonCode.LATE_EVENT if occurred < received_at - MAX_EVENT_AGE else ReasonCode.FUTURE_EVENT
    return _reject(code, message, event)


def check_record(data: bytes | None) -> RecordCheck:
    """Validate one record payload (the Lambda's ``{"event": ..., "meta": ...}`` JSON); never raises."""
    decoded, failure = _decode(data)
    if failure:
        return failure
    if envelope_error := _envelope_error(decoded):
        return _reject(
            ReasonCode.INVALID_ENVELOPE,
            envelope_error,
            decoded.get("event") if isinstance(decoded, dict) else None,
        )
    event, meta = decoded["event"], decoded["meta"]
    if errors := schema_errors(event):
        known = isinstance(event, dict) and event.get("event_type") in EVENT_TYPES
        return _reject(
            ReasonCode.SCHEMA_VIOLATION if known else ReasonCode.UNKNOWN_EVENT_TYPE, "; ".join(errors), event
        )
    received_at = parse_timestamp(meta["received_at"])
    assert received_at is not None  # checked by _envelope_error
    if rejected := _window_check(event, received_at):
        return rejected
    normalize_event(event)
    event["event_id"] = event["event_id"].lower()
    occurred_at = canonical_timestamp(parse_timestamp(event["occurred_at"]))  # type: ignore[arg-type]
    event["occurred_at"] = occurred_at
    meta["received_at"] = canonical_timestamp(received_at)
    envelope_json = orjson.dumps(decoded).decode()
    return RecordCheck(None, None, envelope_json, event["event_id"], event["event_type"], occurred_at[:10])
