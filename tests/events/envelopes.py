"""Kinesis record payloads as the ingest Lambda writes them: ``{"event": {...}, "meta": {...}}``.

Builders for tests of the streaming job; every field value is valid under contract v1 unless a test
changes it on purpose.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

RECEIVED_AT = datetime(2025, 6, 1, 12, 0, 0, 123000, tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_event_id() -> str:
    return str(uuid.uuid4())


def _common(
    event_type: str, event_id: str | None, occurred_at: datetime, user_id: str | None
) -> dict[str, Any]:
    return {
        "event_id": event_id or new_event_id(),
        "event_type": event_type,
        "schema_version": "1.0",
        "occurred_at": rfc3339(occurred_at),
        "user_id": user_id,
        "anonymous_id": "anon-42",
        "session_id": "session-7",
        "device": {
            "platform": "web",
            "os": "Linux",
            "os_version": "6.1",
            "locale": "en-US",
            "ip": "203.0.113.9",
            "screen": {"width": 1920, "height": 1080, "density": 1.0},
        },
        "app": {"name": "shop-web", "version": "3.2.1"},
    }


def page_view(
    *,
    event_id: str | None = None,
    occurred_at: datetime = RECEIVED_AT - timedelta(seconds=2),
    user_id: str | None = "user-1",
    url: str = "https://shop.example/products?id=7&email=a@b.example#reviews",
    referrer: str | None = "https://search.example/?q=running+shoes",
) -> dict[str, Any]:
    event = _common("page_view", event_id, occurred_at, user_id)
    event["properties"] = {"url": url, "path": "/products", "referrer": referrer, "title": "Products"}
    return event


def purchase(
    *,
    event_id: str | None = None,
    occurred_at: datetime = RECEIVED_AT - timedelta(seconds=1),
    revenue: float = 59.9,
) -> dict[str, Any]:
    event = _common("purchase", event_id, occurred_at, "user-1")
    event["properties"] = {
        "order_id": "order-1",
        "currency": "EUR",
        "revenue": revenue,
        "items": [{"product_id": "sku-1", "quantity": 2, "price": 29.95}],
    }
    return event


def signup(*, event_id: str | None = None, email: str | None = "jane@example.com") -> dict[str, Any]:
    event = _common("signup", event_id, RECEIVED_AT - timedelta(seconds=3), "user-2")
    event["properties"] = {"method": "email", "email": email, "referral_code": None}
    return event


def app_error(
    *, event_id: str | None = None, message: str = "card 4111111111111111 declined for jane@example.com"
) -> dict[str, Any]:
    event = _common("app_error", event_id, RECEIVED_AT - timedelta(seconds=4), None)
    event["properties"] = {"error_code": "E42", "message": message, "fatal": False}
    return event


def meta(received_at: datetime = RECEIVED_AT) -> dict[str, Any]:
    return {
        "received_at": rfc3339(received_at),
        "request_id": "req-1",
        "source_app": "demo-app",
        "client_ip_hash": "0" * 64,
        "user_agent": None,
        "api_version": "v1",
        "contract_version": "1.0",
    }


def envelope(event: Any, received_at: datetime = RECEIVED_AT) -> dict[str, Any]:
    return {"event": event, "meta": meta(received_at)}


def record(event: Any, received_at: datetime = RECEIVED_AT) -> bytes:
    """The bytes the Lambda puts on the stream for ``event``."""
    return json.dumps(envelope(event, received_at), separators=(",", ":")).encode()
