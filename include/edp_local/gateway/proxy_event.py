"""Build the API Gateway REST API (payload format 1.0) Lambda proxy event for one HTTP request."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

LOCAL_API_ID = "local"
LOCAL_STAGE = "local"


@dataclasses.dataclass(frozen=True)
class IncomingRequest:
    """The parts of an HTTP request the proxy event carries."""

    method: str
    path: str
    headers: Sequence[tuple[str, str]]
    query: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    host: str
    protocol: str = "HTTP/1.1"


def api_key_id(api_key: str) -> str:
    """A stable stand-in for API Gateway's 10-character key id; never the key itself."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:10]


def _single_and_multi(pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, str] | None, dict | None]:
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value  # API Gateway keeps the last value in the single-value map
        multi.setdefault(name, []).append(value)
    return single, multi


def _encode_body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def rest_proxy_event(
    request: IncomingRequest,
    *,
    resource: str,
    request_id: str,
    api_key: str | None,
    account_id: str,
    received_at: datetime | None = None,
    stage: str = LOCAL_STAGE,
    api_id: str = LOCAL_API_ID,
) -> dict[str, Any]:
    """The event API Gateway sends an ``aws_proxy`` Lambda integration of a REST API."""
    now = received_at or datetime.now(tz=UTC)
    headers, multi_headers = _single_and_multi(request.headers)
    query, multi_query = _single_and_multi(request.query)
    body, is_base64 = _encode_body(request.body)
    user_agent = next((v for k, v in request.headers if k.lower() == "user-agent"), None)
    return {
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method.upper(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": hashlib.sha256(resource.encode()).hexdigest()[:6],
            "resourcePath": resource,
            "httpMethod": request.method.upper(),
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "path": f"/{stage}{request.path}",
            "accountId": account_id,
            "protocol": request.protocol,
            "stage": stage,
            "domainPrefix": request.host.split(".")[0],
            "domainName": request.host,
            "requestId": request_id,
            "apiId": api_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": request.source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
                "apiKey": api_key,
                "apiKeyId": api_key_id(api_key) if api_key else None,
            },
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }
