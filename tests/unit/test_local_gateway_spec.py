"""The ingest API's OpenAPI document, and the local gateway that enforces what it declares."""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate

import edp.contract as event_contract
from edp.config import get_config
from edp.contract import openapi, registry
from edp.contract.openapi import regenerate
from edp.ingest import service as ingest_service
from edp.ingest.http import parse_proxy_event
from edp_local.gateway.app import Gateway, create_app
from edp_local.gateway.keys import DEMO_API_KEY
from edp_local.gateway.lambda_runtime import FunctionConfig, InProcessInvoker
from edp_local.gateway.proxy_event import IncomingRequest, api_key_id, rest_proxy_event
from edp_local.gateway.spec import ANY_METHOD, HTTP_METHODS, default_spec_path, load_spec, parse_spec
from edp_local.gateway.throttle import KeyedThrottle, TokenBucket
from edp_local.runtime.registry import platform_services
from tests.events.apigw import valid_event

pytestmark = pytest.mark.unit

KEY = "unit-test-key"
NOW = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)


class ManualClock:
    """A clock the test advances by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return yaml.safe_load(default_spec_path().read_text())


# ---- the document -------------------------------------------------------------------------------


def test_the_spec_is_a_valid_openapi_3_document(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.0")


def test_events_route_is_an_aws_proxy_integration_to_the_ingest_lambda_placeholder(
    document: dict[str, Any],
) -> None:
    integration = document["paths"]["/v1/events"]["post"]["x-amazon-apigateway-integration"]

    assert integration["type"] == "aws_proxy"
    assert integration["httpMethod"] == "POST"
    assert "${ingest_lambda_arn}" in integration["uri"]


def test_api_keys_come_from_the_header_and_parameters_are_validated(document: dict[str, Any]) -> None:
    validator = document["x-amazon-apigateway-request-validator"]

    assert document["x-amazon-apigateway-api-key-source"] == "HEADER"
    assert document["x-amazon-apigateway-request-validators"][validator] == {
        "validateRequestParameters": True,
        "validateRequestBody": False,
    }
    assert document["components"]["securitySchemes"]["api_key"] == {
        "type": "apiKey",
        "name": "x-api-key",
        "in": "header",
        "description": document["components"]["securitySchemes"]["api_key"]["description"],
    }


def test_the_spec_limits_are_the_event_contract_limits(document: dict[str, Any]) -> None:
    limits = document["x-edp-limits"]
    batch = document["components"]["schemas"]["EventBatch"]["properties"]["events"]

    assert limits["maxBodyBytes"] == event_contract.MAX_BODY_BYTES
    assert limits["maxEventsPerRequest"] == batch["maxItems"] == event_contract.MAX_BATCH_EVENTS
    assert limits["maxEventBytes"] == event_contract.MAX_EVENT_BYTES
    assert limits["apiGatewayMaxBodyBytes"] == 10 * 1024 * 1024


def test_the_committed_spec_holds_the_schemas_generated_from_the_contract() -> None:
    text = default_spec_path().read_text()

    assert regenerate(text) == text, "the spec drifted from the event contract: run `make openapi`"


def test_a_contract_change_changes_the_generated_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    text = default_spec_path().read_text()
    bundled = registry._read("v1", "click.json")
    edited = copy.deepcopy(bundled)
    edited["properties"]["properties"]["properties"]["element_id"]["maxLength"] = 17
    monkeypatch.setattr(openapi, "_read", lambda d, f: edited if f == "click.json" else registry._read(d, f))

    regenerated = yaml.safe_load(regenerate(text))

    click = regenerated["components"]["schemas"]["ClickEvent"]["properties"]["properties"]
    assert click["properties"]["element_id"]["maxLength"] == 17


@pytest.mark.parametrize("event_type", event_contract.EVENT_TYPES)
def test_every_event_valid_by_the_contract_is_valid_by_the_spec_and_a_broken_one_is_not(
    document: dict[str, Any], event_type: str
) -> None:
    validator = spec_validator(document, "IngestRequest")
    event = valid_event(event_type, NOW)

    assert event_contract.validate_event(event, received_at=NOW) is None
    validator.validate(event)
    validator.validate({"events": [event, event]})
    for broken in _broken(event):
        assert event_contract.validate_event(broken, received_at=NOW)
        assert not validator.is_valid(broken), broken


def _broken(event: dict[str, Any]) -> list[dict[str, Any]]:
    cases = []
    for path, value in [
        (("event_id",), "not-a-uuid"),
        (("occurred_at",), "2025-11-20 12:00:00"),
        (("session_id",), "has space"),
        (("user_id",), ""),
        (("schema_version",), "2.0"),
        (("device", "locale"), "x"),
        (("app", "name"), "a" * 65),
        (("surprise",), 1),
    ]:
        broken = copy.deepcopy(event)
        node = broken
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        cases.append(broken)
    if event["event_type"] == "page_view":
        cases.append({**event, "properties": {**event["properties"], "url": "javascript:alert(1)"}})
    return cases


def spec_validator(document: dict[str, Any], name: str) -> jsonschema.Draft4Validator:
    """The spec's component as JSON Schema: OpenAPI 3.0's nullable read the way openapi-core reads it."""
    components = copy.deepcopy(document["components"]["schemas"])

    def nullable_to_type(node: Any) -> Any:
        if isinstance(node, dict):
            if node.pop("nullable", False) and "type" in node:
                node["type"] = [node["type"], "null"]
            for value in node.values():
                nullable_to_type(value)
        elif isinstance(node, list):
            for value in node:
                nullable_to_type(value)
        return node

    root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": nullable_to_type(components)}}
    return jsonschema.Draft4Validator(root, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def test_the_handler_serves_exactly_the_paths_and_methods_the_spec_declares(document: dict[str, Any]) -> None:
    declared = {
        path: tuple(m.upper() for m in item if m in HTTP_METHODS) for path, item in document["paths"].items()
    }
    allow = {
        path: item[ANY_METHOD]["x-amazon-apigateway-integration"]["responses"]["default"][
            "responseParameters"
        ]["method.response.header.Allow"].strip("'")
        for path, item in document["paths"].items()
    }

    assert declared == ingest_service.ROUTES
    assert allow == {path: ", ".join(methods) for path, methods in ingest_service.ROUTES.items()}


# ---- the gateway reads it -----------------------------------------------------------------------


def test_the_gateway_reads_routes_keys_media_types_and_limits_from_the_spec(document: dict[str, Any]) -> None:
    spec = load_spec()
    events = spec.route("POST", "/v1/events")
    health = spec.route("GET", "/v1/health")
    throttle = document["x-edp-usage-plan"]["throttle"]

    assert events is not None and health is not None
    assert events.integration_type == "aws_proxy" and events.api_key_required
    assert events.media_types == ("application/json",)
    assert events.timeout_s == 10.0
    assert health.integration_type == "mock" and not health.api_key_required
    assert json.loads(health.mock_body)["status"] == "ok"
    assert spec.api_key_header == "x-api-key"
    assert spec.max_body_bytes == document["x-edp-limits"]["maxBodyBytes"]
    assert (spec.throttle_rate, spec.throttle_burst) == (throttle["rateLimit"], throttle["burstLimit"])
    assert spec.route("GET", "/v1/events").mock_status == 405  # the path's ANY mock
    assert spec.route("GET", "/v1/other") is None


def test_editing_the_spec_changes_what_the_gateway_enforces(document: dict[str, Any]) -> None:
    edited = copy.deepcopy(document)
    edited["x-edp-usage-plan"]["throttle"] = {"rateLimit": 5, "burstLimit": 7}
    edited["x-edp-limits"]["maxBodyBytes"] = 2048
    edited["x-amazon-apigateway-gateway-responses"]["THROTTLED"]["statusCode"] = 503

    spec = parse_spec(edited)

    assert (spec.throttle_rate, spec.throttle_burst, spec.max_body_bytes) == (5.0, 7, 2048)
    assert spec.response("THROTTLED").status == 503


@pytest.mark.parametrize(
    ("response_type", "status", "code"),
    [
        ("BAD_REQUEST_PARAMETERS", 401, "missing_api_key"),
        ("INVALID_API_KEY", 403, "invalid_api_key"),
        ("REQUEST_TOO_LARGE", 413, "body_too_large"),
        ("UNSUPPORTED_MEDIA_TYPE", 415, "unsupported_media_type"),
        ("THROTTLED", 429, "throttled"),
        ("MISSING_AUTHENTICATION_TOKEN", 404, "not_found"),
    ],
)
def test_gateway_responses_use_the_contract_status_and_body_shape(
    response_type: str, status: int, code: str
) -> None:
    response = load_spec().response(response_type)

    body, _headers = response.render("req-1", "ignored", {})

    assert response.status == status
    assert json.loads(body) == {
        "accepted": 0,
        "rejected": 0,
        "duplicates": 0,
        "request_id": "req-1",
        "results": [],
        "error": {"code": code, "message": json.loads(body)["error"]["message"]},
    }


def test_the_throttled_response_carries_a_static_retry_after_like_api_gateway() -> None:
    _body, headers = load_spec().response("THROTTLED").render("req-1", "", {})

    assert headers == {"Retry-After": "1"}


# ---- token bucket -------------------------------------------------------------------------------


def test_a_bucket_allows_a_burst_then_refuses_with_the_wait_until_the_next_token() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)

    allowed = [bucket.try_acquire().allowed for _ in range(3)]
    refused = bucket.try_acquire()

    assert allowed == [True, True, True]
    assert not refused.allowed and refused.retry_after_s == 1  # 0.5 s rounds up to whole seconds


def test_a_bucket_refills_at_the_rate_and_never_beyond_the_burst() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    for _ in range(3):
        bucket.try_acquire()

    clock.advance(0.5)
    one_more = bucket.try_acquire()
    clock.advance(3600)
    after_idle = [bucket.try_acquire().allowed for _ in range(4)]

    assert one_more.allowed
    assert after_idle == [True, True, True, False]


def test_retry_after_covers_the_whole_wait_at_a_slow_rate() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=0.2, burst=1, clock=clock)
    bucket.try_acquire()

    clock.advance(1.0)

    assert bucket.try_acquire().retry_after_s == 4  # 0.2 tokens left to gain 0.8 at 0.2/s


def test_each_api_key_has_its_own_bucket() -> None:
    clock = ManualClock()
    throttle = KeyedThrottle(rate=1.0, burst=1, clock=clock)

    assert throttle.check("web").allowed
    assert not throttle.check("web").allowed
    assert throttle.check("ios").allowed


def test_a_bucket_refuses_a_nonsensical_configuration() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(rate=0, burst=1)


# ---- proxy event --------------------------------------------------------------------------------


def test_the_proxy_event_is_what_the_ingest_handler_parses_as_a_rest_v1_request() -> None:
    request = IncomingRequest(
        method="POST",
        path="/v1/events",
        headers=[("content-type", "application/json"), ("x-api-key", KEY), ("user-agent", "ua/1.0")],
        query=[("debug", "1")],
        body=b'{"events": []}',
        source_ip="10.1.2.3",
        host="127.0.0.1:8090",
    )

    event = rest_proxy_event(request, resource="/v1/events", request_id="rid-1", api_key=KEY, account_id="1")
    parsed = parse_proxy_event(event)

    assert event["requestContext"]["identity"]["apiKey"] == KEY
    assert event["requestContext"]["identity"]["userAgent"] == "ua/1.0"
    assert event["requestContext"]["stage"] == "local"
    assert event["multiValueQueryStringParameters"] == {"debug": ["1"]}
    assert (parsed.method, parsed.path, parsed.request_id) == ("POST", "/v1/events", "rid-1")
    assert (parsed.source_ip, parsed.api_key_id, parsed.body) == (
        "10.1.2.3",
        api_key_id(KEY),
        b'{"events": []}',
    )
    assert parsed.header("x-api-key") == KEY


def test_a_body_that_is_not_utf8_reaches_the_handler_base64_encoded_and_unchanged() -> None:
    request = IncomingRequest("POST", "/v1/events", [], [], b"\xff\xfe{", "127.0.0.1", "localhost")

    event = rest_proxy_event(request, resource="/v1/events", request_id="r", api_key=None, account_id="1")

    assert event["isBase64Encoded"] is True
    assert parse_proxy_event(event).body == b"\xff\xfe{"


# ---- the pipeline, with a real (echoing) handler loaded like the Lambda runtime does --------------

ECHO_HANDLER = textwrap.dedent(
    """
    import json

    CALLS = []

    def lambda_handler(event, context):
        CALLS.append(event)
        body = {"event": event, "function_name": context.function_name,
                "remaining_ms": context.get_remaining_time_in_millis()}
        return {"statusCode": 200, "headers": {"Content-Type": "application/json", "x-echo": "1"},
                "body": json.dumps(body)}
    """
)


@pytest.fixture
def echo_function(tmp_path: Path) -> FunctionConfig:
    package = f"echo_fn_{uuid.uuid4().hex[:8]}"
    function_dir = tmp_path / "echo"
    (function_dir / package).mkdir(parents=True)
    (function_dir / package / "__init__.py").write_text("")
    (function_dir / package / "handler.py").write_text(ECHO_HANDLER)
    (function_dir / "lambda.toml").write_text(
        f'handler = "{package}.handler.lambda_handler"\nruntime = "python3.12"\narchitecture = "x86_64"\n'
    )
    return FunctionConfig.read(function_dir)


@dataclasses.dataclass
class GatewayUnderTest:
    http: httpx.AsyncClient
    handler_calls: list[dict[str, Any]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def gateway(echo_function: FunctionConfig, document: dict[str, Any]):
    """The app on a tight spec (0.5 req/s, burst 2, 1000-byte bodies) with a hand-driven throttle clock."""
    edited = copy.deepcopy(document)
    edited["x-edp-usage-plan"]["throttle"] = {"rateLimit": 0.5, "burstLimit": 2}
    edited["x-edp-limits"]["maxBodyBytes"] = 1000
    spec = parse_spec(edited)
    invoker = InProcessInvoker(echo_function, region="us-east-1", account_id="000000000000")
    throttle = KeyedThrottle(spec.throttle_rate, spec.throttle_burst, ManualClock())
    app = create_app(Gateway(spec, invoker, {KEY: "unit-app"}, throttle=throttle))
    await invoker.start()  # what the app's lifespan does; ASGITransport does not run lifespans
    transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        module = sys.modules[echo_function.handler.rpartition(".")[0]]
        yield GatewayUnderTest(http, module.CALLS)
    invoker.close()


async def post(gateway: GatewayUnderTest, body: bytes = b"{}", **headers: str) -> httpx.Response:
    merged = {"content-type": "application/json", "x-api-key": KEY, **headers}
    return await gateway.http.post("/v1/events", content=body, headers={k: v for k, v in merged.items() if v})


@pytest.mark.anyio
async def test_an_accepted_request_reaches_the_handler_as_a_rest_proxy_event(
    gateway: GatewayUnderTest,
) -> None:
    response = await post(gateway, b'{"events": [1]}', **{"user-agent": "pytest"})
    body = response.json()
    context = body["event"]["requestContext"]

    assert response.status_code == 200 and response.headers["x-echo"] == "1"
    assert body["event"]["body"] == '{"events": [1]}'
    assert context["identity"]["apiKey"] == KEY and context["identity"]["sourceIp"] == "10.9.8.7"
    assert context["requestId"] == response.headers["x-amzn-requestid"]
    assert body["function_name"] == "edp-echo" and 0 < body["remaining_ms"] <= 10_000


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"x-api-key": ""}, b"{}", 401),
        ({"x-api-key": "wrong"}, b"{}", 403),
        ({"content-type": "text/plain"}, b"{}", 415),
        ({"content-type": ""}, b"{}", 415),
        ({}, b"x" * 1001, 413),
    ],
)
async def test_rejected_requests_never_reach_the_handler(
    gateway: GatewayUnderTest, headers: dict[str, str], body: bytes, status: int
) -> None:
    response = await post(gateway, body, **headers)

    assert response.status_code == status
    assert response.json()["error"]["code"]
    assert gateway.handler_calls == []


@pytest.mark.anyio
async def test_the_usage_plan_throttles_per_key_with_retry_after(gateway: GatewayUnderTest) -> None:
    statuses = [(await post(gateway)).status_code for _ in range(2)]
    throttled = await post(gateway)

    assert statuses == [200, 200]
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"  # 1 token at 0.5/s
    assert len(gateway.handler_calls) == 2


@pytest.mark.anyio
async def test_health_answers_from_the_mock_integration_without_a_key(gateway: GatewayUnderTest) -> None:
    response = await gateway.http.get("/v1/health")

    assert response.status_code == 200 and response.json() == {"status": "ok", "service": "edp-ingest"}


@pytest.mark.anyio
async def test_an_unknown_path_is_a_404_in_the_contract_shape(gateway: GatewayUnderTest) -> None:
    response = await gateway.http.post("/v1/event", content=b"{}")

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert response.headers["content-type"].startswith("application/json")


UNDECLARED = [
    (path, allow, method)
    for path, allow in [("/v1/events", "POST"), ("/v1/health", "GET")]
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "FOO"]
    if method != allow
]


@pytest.mark.anyio
@pytest.mark.parametrize(("path", "allow", "method"), UNDECLARED)
async def test_an_undeclared_method_is_a_405_with_allow_in_the_contract_shape(
    gateway: GatewayUnderTest, path: str, allow: str, method: str
) -> None:
    response = await gateway.http.request(method, path, content=b"{}", headers={"x-api-key": KEY})

    assert response.status_code == 405 and response.headers["allow"] == allow
    body = response.json()
    assert body["error"] == {"code": "method_not_allowed", "message": f"{path} accepts {allow} only"}
    assert body["request_id"] == response.headers["x-amzn-requestid"]
    assert gateway.handler_calls == []


@pytest.mark.anyio
async def test_head_on_health_is_a_405_without_a_body(gateway: GatewayUnderTest) -> None:
    response = await gateway.http.head("/v1/health")

    assert response.status_code == 405 and response.headers["allow"] == "GET" and response.content == b""


# ---- registration with the local runtime --------------------------------------------------------


def test_the_gateway_runs_after_the_aws_endpoint_and_advertises_the_demo_key() -> None:
    config = get_config({"ports": {"gateway": 18090}})
    services = platform_services(config)
    names = [service.name for service in services]
    gateway = services[names.index("gateway")]

    assert names.index("gateway") == names.index("aws-endpoint") + 1
    assert gateway.port == 18090 and gateway.url == "http://127.0.0.1:18090"
    assert gateway.command[1:] == ("-m", "edp_local.gateway", "--host", "127.0.0.1", "--port", "18090")
    assert gateway.health.url == "http://127.0.0.1:18090/v1/health"
    assert gateway.info == {"api_key": DEMO_API_KEY, "events_endpoint": "http://127.0.0.1:18090/v1/events"}
