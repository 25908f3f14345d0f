"""What the local gateway enforces, read from the API's OpenAPI document (the one AWS imports)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from edp.config import get_config

SPEC_RELATIVE_PATH = Path("include") / "lambda" / "ingest" / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
ANY_METHOD = "x-amazon-apigateway-any-method"  # API Gateway's catch-all for methods a path does not declare
_STATIC_VALUE = re.compile(r"^'(.*)'$", re.DOTALL)


class SpecError(ValueError):
    """The OpenAPI document lacks something the gateway needs."""


def default_spec_path() -> Path:
    return get_config().project_root / SPEC_RELATIVE_PATH


@dataclasses.dataclass(frozen=True)
class Route:
    method: str  # upper case
    path: str
    operation_id: str
    integration_type: str  # "aws_proxy" or "mock"
    api_key_required: bool
    media_types: tuple[str, ...]  # accepted request Content-Types; empty = no body expected
    timeout_s: float
    mock_status: int = 200
    mock_body: str = ""  # $context.requestId is substituted
    mock_headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def mock_response(self, request_id: str) -> tuple[str, dict[str, str]]:
        return self.mock_body.replace("$context.requestId", request_id), dict(self.mock_headers)


@dataclasses.dataclass(frozen=True)
class GatewayResponse:
    """One ``x-amazon-apigateway-gateway-responses`` entry: status, headers and a body template."""

    status: int
    headers: Mapping[str, str]  # header -> API Gateway mapping expression ('static' or method.request...)
    template: str

    def render(self, request_id: str, message: str, request_headers: Mapping[str, str]) -> tuple[str, dict]:
        """The body and headers API Gateway would send, with the context variables it substitutes."""
        body = self.template.replace("$context.requestId", request_id).replace(
            "$context.error.messageString", json.dumps(message)
        )
        headers = {}
        for name, expression in self.headers.items():
            static = _STATIC_VALUE.match(expression)
            if static:
                headers[name] = static.group(1)
            elif expression.startswith("method.request.header."):
                value = request_headers.get(expression.removeprefix("method.request.header.").lower())
                if value is not None:
                    headers[name] = value
        return body, headers


# API Gateway's built-in defaults for the response types the gateway produces, used when the
# document does not customise them.
_DEFAULT_RESPONSES: dict[str, int] = {
    "BAD_REQUEST_PARAMETERS": 400,
    "INVALID_API_KEY": 403,
    "THROTTLED": 429,
    "REQUEST_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "INTEGRATION_TIMEOUT": 504,
    "DEFAULT_5XX": 502,
}


@dataclasses.dataclass(frozen=True)
class GatewaySpec:
    title: str
    routes: Mapping[tuple[str, str], Route]
    api_key_header: str  # lower case
    max_body_bytes: int
    max_events_per_request: int
    throttle_rate: float
    throttle_burst: int
    responses: Mapping[str, GatewayResponse]

    def route(self, method: str, path: str) -> Route | None:
        """The operation for ``method`` on ``path``, else the path's catch-all (``ANY``), else ``None``."""
        return self.routes.get((method.upper(), path)) or self.routes.get(("ANY", path))

    def response(self, response_type: str) -> GatewayResponse:
        if response_type in self.responses:
            return self.responses[response_type]
        status = _DEFAULT_RESPONSES[response_type]
        template = '{"message": $context.error.messageString}'
        return GatewayResponse(status=status, headers={}, template=template)


def load_spec(path: Path | str | None = None) -> GatewaySpec:
    """Parse the OpenAPI document at ``path`` (default: the ingest API's) into what the gateway enforces."""
    document = yaml.safe_load(Path(path or default_spec_path()).read_text(encoding="utf-8"))
    return parse_spec(document)


def parse_spec(document: Mapping[str, Any]) -> GatewaySpec:
    if not str(document.get("openapi", "")).startswith("3."):
        raise SpecError("not an OpenAPI 3 document")
    key_header = _api_key_header(document)
    limits = _require(document, "x-edp-limits")
    throttle = _require(_require(document, "x-edp-usage-plan"), "throttle")
    routes = {}
    for path, item in _require(document, "paths").items():
        for method, operation in item.items():
            if method in HTTP_METHODS or method == ANY_METHOD:
                route = _route(document, path, "any" if method == ANY_METHOD else method, operation)
                routes[(route.method, route.path)] = route
    return GatewaySpec(
        title=document.get("info", {}).get("title", ""),
        routes=routes,
        api_key_header=key_header,
        max_body_bytes=int(_require(limits, "maxBodyBytes")),
        max_events_per_request=int(_require(limits, "maxEventsPerRequest")),
        throttle_rate=float(_require(throttle, "rateLimit")),
        throttle_burst=int(_require(throttle, "burstLimit")),
        responses=_gateway_responses(document),
    )


def _require(mapping: Mapping[str, Any], key: str) -> Any:
    if key not in mapping:
        raise SpecError(f"the OpenAPI document has no {key!r}")
    return mapping[key]


def _api_key_header(document: Mapping[str, Any]) -> str:
    if document.get("x-amazon-apigateway-api-key-source", "HEADER") != "HEADER":
        raise SpecError("the local gateway supports API keys from the HEADER source only")
    schemes = document.get("components", {}).get("securitySchemes", {})
    for scheme in schemes.values():
        if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
            return str(scheme["name"]).lower()
    return "x-api-key"  # API Gateway's fixed header for the HEADER source


def _requires_api_key(document: Mapping[str, Any], operation: Mapping[str, Any]) -> bool:
    schemes = document.get("components", {}).get("securitySchemes", {})
    requirements = operation.get("security", document.get("security", []))
    return any(schemes.get(name, {}).get("type") == "apiKey" for req in requirements for name in req)


def _route(document: Mapping[str, Any], path: str, method: str, operation: Mapping[str, Any]) -> Route:
    integration = operation.get("x-amazon-apigateway-integration")
    if not integration:
        raise SpecError(f"{method.upper()} {path} has no x-amazon-apigateway-integration")
    kind = str(integration.get("type", "")).lower()
    if kind not in ("aws_proxy", "mock"):
        raise SpecError(f"{method.upper()} {path}: integration type {kind!r} is not supported locally")
    mock_status, mock_body, mock_headers = 200, "", {}
    if kind == "mock":
        default = integration.get("responses", {}).get("default", {})
        mock_status = int(default.get("statusCode", 200))
        mock_body = default.get("responseTemplates", {}).get("application/json", "")
        for name, expression in default.get("responseParameters", {}).items():
            static = _STATIC_VALUE.match(expression)
            if name.startswith("method.response.header.") and static:
                mock_headers[name.removeprefix("method.response.header.")] = static.group(1)
    body = operation.get("requestBody", {})
    return Route(
        method=method.upper(),
        path=path,
        operation_id=operation.get("operationId", f"{method}_{path}"),
        integration_type=kind,
        api_key_required=_requires_api_key(document, operation),
        media_types=tuple(m.lower() for m in body.get("content", {})),
        timeout_s=int(integration.get("timeoutInMillis", 29000)) / 1000,
        mock_status=mock_status,
        mock_body=mock_body,
        mock_headers=mock_headers,
    )


def _gateway_responses(document: Mapping[str, Any]) -> dict[str, GatewayResponse]:
    responses = {}
    for response_type, entry in document.get("x-amazon-apigateway-gateway-responses", {}).items():
        status = entry.get("statusCode", _DEFAULT_RESPONSES.get(response_type))
        if status is None:
            continue  # DEFAULT_4XX/5XX without a status only restyle bodies
        headers = {
            name.removeprefix("gatewayresponse.header."): value
            for name, value in entry.get("responseParameters", {}).items()
        }
        template = entry.get("responseTemplates", {}).get(
            "application/json", '{"message": $context.error.messageString}'
        )
        responses[response_type] = GatewayResponse(status=int(status), headers=headers, template=template)
    return responses
