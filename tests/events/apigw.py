"""Helpers for replaying the recorded API Gateway events in this folder against Lambda handlers."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent


@dataclasses.dataclass
class FakeLambdaContext:
    """The attributes of ``awslambdaric``'s context that handlers and Powertools read."""

    function_name: str = "edp-ingest"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:edp-ingest"
    aws_request_id: str = "52fdfc07-2182-454f-963f-5f0f9a621d72"
    log_group_name: str = "/aws/lambda/edp-ingest"
    log_stream_name: str = "2025/11/20/[$LATEST]0123456789abcdef"
    remaining_ms: int = 29_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of a recorded event, e.g. ``load_event("apigw_rest_v1_single")``."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def request_time(event: dict[str, Any]) -> datetime:
    """When API Gateway received the recorded request (the clock its events were recorded against)."""
    context = event["requestContext"]
    epoch_ms = context.get("timeEpoch") or context["requestTimeEpoch"]
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def body_of(event: dict[str, Any]) -> Any:
    raw = event["body"]
    return json.loads(base64.b64decode(raw) if event.get("isBase64Encoded") else raw)


def with_body(event: dict[str, Any], body: Any, *, raw: bool = False) -> dict[str, Any]:
    """A copy of ``event`` carrying ``body`` (JSON-encoded unless ``raw``; bytes go base64)."""
    event = copy.deepcopy(event)
    if isinstance(body, bytes):
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = (body if raw else json.dumps(body)), False
    return event


def with_headers(event: dict[str, Any], **changes: str | None) -> dict[str, Any]:
    """A copy with headers set (``x_api_key="k"`` -> ``x-api-key``) or removed (value ``None``)."""
    event = copy.deepcopy(event)
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    for name, value in changes.items():
        key = name.replace("_", "-").lower()
        if value is None:
            headers.pop(key, None)
        else:
            headers[key] = value
    event["headers"] = headers
    event.pop("multiValueHeaders", None)
    return event


def valid_event(event_type: str, received_at: datetime, **overrides: Any) -> dict[str, Any]:
    """A valid event of any contract type, ``occurred_at`` one minute before ``received_at``."""
    properties = {
        "page_view": {
            "url": "https://shop.example.com/c/coffee?page=2",
            "path": "/c/coffee",
            "referrer": None,
        },
        "screen_view": {"screen_name": "Home"},
        "click": {"element_id": "nav_cart", "target_url": "https://shop.example.com/cart"},
        "add_to_cart": {"product_id": "SKU-1", "quantity": 2, "price": 9.5, "currency": "USD"},
        "purchase": {
            "order_id": "ORD-1",
            "currency": "USD",
            "revenue": 19.0,
            "items": [{"product_id": "SKU-1", "quantity": 2, "price": 9.5}],
        },
        "signup": {"method": "email", "email": "someone@example.com"},
        "app_error": {"error_code": "E_PARSE", "message": "unexpected token", "fatal": False},
    }[event_type]
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": "1.0",
        "occurred_at": (received_at - timedelta(minutes=1)).isoformat(),
        "user_id": "user-1",
        "anonymous_id": "anon-1",
        "session_id": "session-1",
        "device": {"platform": "web", "os": "Windows", "os_version": "11", "locale": "en-GB"},
        "app": {"name": "shop-web", "version": "1.0.0"},
        "properties": properties,
    }
    event.update(overrides)
    return event
