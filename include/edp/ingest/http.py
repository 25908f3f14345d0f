"""API Gateway proxy events (REST v1 and HTTP API v2 payloads) in, proxy responses out."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson

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


def _headers(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(k).lower(): v if isinstance(v, str) else str(v) for k, v in raw.items() if v is not None}


def _body(raw: Any, is_base64: bool) -> tuple[bytes | None, str | None]:
    """Decode the proxy body to bytes, or name why it cannot be: ``too_large`` or ``undecodable``."""
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


def _authorizer_app(context: Mapping[str, Any]) -> str | None:
    """``source_app`` set by an API Gateway Lambda authorizer (REST: flat, HTTP API: under ``lambda``)."""
    authorizer = context.get("authorizer")
    if not isinstance(authorizer, Mapping):
        return None
    lambda_ctx = authorizer.get("lambda")
    app = (lambda_ctx if isinstance(lambda_ctx, Mapping) else authorizer).get("source_app")
    return app if isinstance(app, str) and app else None


def parse_proxy_event(event: Mapping[str, Any]) -> HttpRequest:
    """Normalise a REST (v1) or HTTP API (v2) proxy integration event."""
    context = event.get("requestContext") or {}
    if not isinstance(context, Mapping):
        context = {}
    body, body_error = _body(event.get("body"), bool(event.get("isBase64Encoded")))
    common = {
        "headers": _headers(event.get("headers")),
        "body": body,
        "body_error": body_error,
        "request_id": str(context.get("requestId") or event.get("requestId") or "unknown-request"),
        "authorizer_app": _authorizer_app(context),
    }
    if event.get("version") == "2.0":
        http = context.get("http") or {}
        path = str(event.get("rawPath") or http.get("path") or "")
        stage = context.get("stage")
        if stage and stage != "$default" and path.startswith(f"/{stage}/"):
            path = path[len(stage) + 1 :]
        return HttpRequest(
            method=str(http.get("method") or "").upper(), path=path, source_ip=http.get("sourceIp"), **common
        )
    identity = context.get("identity") or {}
    return HttpRequest(
        method=str(event.get("httpMethod") or "").upper(),
        path=str(event.get("path") or ""),
        source_ip=identity.get("sourceIp"),
        api_key_id=identity.get("apiKeyId") or None,
        **common,
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
