"""Request-level checks: content type and body decoding into a list of candidate events."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from edp.contract import MAX_BATCH_EVENTS

# an escaped lower-case ASCII letter, the only way to spell "events" without the literal bytes
_ESCAPED_LETTER = re.compile(rb"\\u00[67][0-9a-fA-F]")


class RequestError(Exception):
    """A request-level rejection: HTTP status, a stable machine code and a readable message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def check_content_type(value: str | None) -> None:
    """Accept ``application/json`` with an optional ``charset=utf-8`` parameter only."""
    if not value:
        raise RequestError(415, "unsupported_media_type", "Content-Type must be application/json")
    media_type, *params = (part.strip().lower() for part in value.split(";"))
    if media_type != "application/json":
        raise RequestError(
            415, "unsupported_media_type", f"Content-Type must be application/json, got {media_type!r}"
        )
    for param in params:
        name, _, charset = param.partition("=")
        if name.strip() == "charset" and charset.strip().strip('"') not in ("utf-8", "utf8"):
            raise RequestError(415, "unsupported_media_type", "only charset=utf-8 is accepted")


def decode_events(body: bytes | None) -> list[Any]:
    """Parse the body into its events: one object, or ``{"events": [...]}`` with 1..500 entries.

    orjson is strict: invalid UTF-8, lone surrogates, NaN/Infinity, numbers out of double range and
    nesting deeper than 1024 are all decode errors. Repeated keys: the last one wins (RFC 8259 leaves
    it open), except a repeated ``events`` key, which is refused: it would drop the earlier array's
    events without a result for them.
    """
    if not body or not body.strip():
        raise RequestError(400, "empty_body", "request body is empty")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, "invalid_json", f"body is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise RequestError(400, "invalid_shape", 'body must be an event object or {"events": [...]}')
    if "events" not in payload:
        return [payload]
    if len(payload) != 1:
        extra = sorted(k for k in payload if k != "events")[:5]
        raise RequestError(
            400, "invalid_shape", f"a batch object may only contain 'events', got also {extra}"
        )
    if _repeats_events_key(body):
        raise RequestError(400, "duplicate_key", "the body has more than one 'events' key")
    events = payload["events"]
    if not isinstance(events, list):
        raise RequestError(400, "invalid_shape", "'events' must be an array")
    if not events:
        raise RequestError(400, "empty_batch", "'events' is empty")
    if len(events) > MAX_BATCH_EVENTS:
        raise RequestError(
            400, "batch_too_large", f"batch has {len(events)} events; at most {MAX_BATCH_EVENTS} are allowed"
        )
    return events


def _repeats_events_key(body: bytes) -> bool:
    """Whether the top-level object has ``events`` twice; a second, slower parse only when it may.

    orjson keeps the last of repeated keys and cannot report them. A repeat needs the literal
    ``"events"`` twice or an escaped letter, so the stdlib parse (2-3x orjson's cost) runs on those
    rare bodies only.
    """
    if body.count(b'"events"') < 2 and not (b"\\" in body and _ESCAPED_LETTER.search(body)):
        return False
    try:
        keys = json.loads(body, object_pairs_hook=lambda pairs: [key for key, _ in pairs])
    except RecursionError:  # orjson took it (<= 1,024 levels), the C scanner gives up sooner
        raise RequestError(400, "invalid_json", "body is nested too deeply") from None
    return keys.count("events") > 1
