"""API Gateway proxy events (REST v1 and HTTP API v2 payloads) in, proxy responses out."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, APIGatewayProxyEventV2

from edp.contract import MAX_BODY_BYTES

# base64 inflates by 4/3; anything longer than this cannot decode to an acceptable body
_MAX_ENCODED_CHARS = (MAX_BODY_BYTES // 3 + 1) * 4


@dataclasses.dataclass(frozen=True, slots=True)
class HttpRequest:
    """The parts of a proxy event the ingest API uses; header names are lower-case."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes | None
    body_error: str | None  # "too_large" | "undecodable" | None
    source_ip: str | None
    request_id: str
    api_key_id: str | None = None
    authorizer_app: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def _body(raw: Any, is_base64: bool) -> tuple[bytes | None, str | None]:
    """Decode the proxy body to bytes, or name why it cannot be: ``too_large`` or ``undecodable``.

    Hand-written rather than Powertools' ``decoded_body``: the size is bounded before decoding, and
    the result stays bytes, so invalid UTF-8 reaches the JSON decoder (and its 400) unchanged.
    """
    if raw is None or raw == "":
        return None, None
    if not isinstance(raw, str):
        return None, "undecodable"
    if is_base64:
        if len(raw) > _MAX_ENCODED_CHARS:
            return None, "too_large"
        try:
            decoded = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return None, "undecodable"
        return (decoded, None) if len(decoded) <= MAX_BODY_BYTES else (None, "too_large")
    if len(raw) > MAX_BODY_BYTES:  # every character is at least one UTF-8 byte
        return None, "too_large"
    # surrogatepass keeps lone surrogates as bytes, so the JSON decoder rejects them as invalid UTF-8
    encoded = raw.encode("utf-8", "surrogatepass")
    return (encoded, None) if len(encoded) <= MAX_BODY_BYTES else (None, "too_large")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _v2_path(proxy: APIGatewayProxyEventV2) -> str:
    """``rawPath`` without a named stage's prefix; Powertools' ``path`` strips it even when absent."""
    path = str(proxy.raw_path or proxy.request_context.http.path or "")
    stage = proxy.request_context.stage
    if stage and stage != "$default" and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]
    return path


def _parse(event: Mapping[str, Any]) -> HttpRequest:
    version_2 = event.get("version") == "2.0"
    proxy = APIGatewayProxyEventV2(event) if version_2 else APIGatewayProxyEvent(event)
    body, body_error = _body(proxy.body, bool(proxy.is_base64_encoded))
    context = proxy.get("requestContext") or {}
    headers = {
        str(k).lower(): v if isinstance(v, str) else str(v) for k, v in proxy.headers.items() if v is not None
    }
    common = {
        "headers": headers,
        "body": body,
        "body_error": body_error,
        "request_id": str(context.get("requestId") or event.get("requestId") or "unknown-request"),
    }
    if isinstance(proxy, APIGatewayProxyEventV2):
        authorizer = proxy.request_context.authorizer.get_lambda  # HTTP API: a Lambda authorizer's context
        return HttpRequest(
            method=str(proxy.request_context.http.method or "").upper(),
            path=_v2_path(proxy),
            source_ip=_text(proxy.request_context.http.source_ip),
            authorizer_app=_text(authorizer.get("source_app")),
            **common,
        )
    identity = proxy.request_context.identity
    return HttpRequest(
        method=str(proxy.get("httpMethod") or "").upper(),
        path=str(proxy.get("path") or ""),
        source_ip=_text(identity.source_ip),
        api_key_id=_text(identity.api_key_id),
        authorizer_app=_text(proxy.request_context.authorizer.get_context().get("source_app")),
        **common,
    )


def parse_proxy_event(event: Mapping[str, Any]) -> HttpRequest:
    """Normalise a REST (v1) or HTTP API (v2) proxy integration event with Powertools' event classes.

    An invocation that is not a proxy event (a console test, a misrouted trigger) becomes a request
    without method or path, which the service answers with 404 rather than a crash.
    """
    try:
        return _parse(event)
    except (KeyError, TypeError, AttributeError, ValueError):
        return HttpRequest(
            method="",
            path="",
            headers={},
            body=None,
            body_error=None,
            source_ip=None,
            request_id="unknown-request",
        )


@dataclasses.dataclass(slots=True)
class HttpResponse:
    status: int
    body: Mapping[str, Any]
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_proxy(self) -> dict[str, Any]:
        """The proxy integration response; the same shape works for REST and HTTP APIs."""
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json", **self.headers},
            "body": orjson.dumps(self.body).decode(),
            "isBase64Encoded": False,
        }
