"""The ingest Lambda replayed with recorded API Gateway events; Kinesis and S3 are botocore Stubbers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import boto3
import jsonschema
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

import edp.contract as event_contract
from edp.contract import MAX_BATCH_EVENTS, MAX_BODY_BYTES
from edp.ingest import handler
from edp.ingest.kinesis import MAX_BYTES_PER_CALL, KinesisWriter, StreamRecord, chunks
from edp.ingest.quarantine import LocalQuarantine, S3Quarantine, quarantine_sink_for
from edp.ingest.service import IngestService
from edp.ingest.settings import ConfigurationError, RetryPolicy, load_settings
from tests.events.apigw import (
    FakeLambdaContext,
    body_of,
    load_event,
    request_time,
    valid_event,
    with_body,
    with_headers,
)

pytestmark = pytest.mark.unit

STREAM = "edp-events"
SALT = "unit-test-salt"
KEYS = {"local-demo-key": "demo-app", "ios-key-7f3a": "shop-ios"}


@pytest.fixture
def lambda_context():
    return FakeLambdaContext()


@pytest.fixture
def lake(tmp_path, monkeypatch):
    """Local platform settings pointing the lake (and so the quarantine) at a temporary directory."""
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("PLATFORM__LAKE__ROOT", str(tmp_path))
    monkeypatch.setenv("PLATFORM__STREAM__NAME", STREAM)
    monkeypatch.setenv("INGEST_API_KEYS", json.dumps(KEYS))
    monkeypatch.setenv("INGEST_IP_SALT", SALT)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return tmp_path


@pytest.fixture
def kinesis(lake):
    """A real botocore Kinesis client whose calls are answered by a Stubber; params are captured."""
    client = boto3.client("kinesis", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    calls: list[list[dict]] = []
    client.meta.events.register(
        "provide-client-params.kinesis.PutRecords", lambda params, **_: calls.append(params["Records"])
    )
    with Stubber(client) as stubber:
        stubber.calls = calls
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def install(kinesis, sleeps):
    """Install a service for one recorded event: its clock is the recorded request time."""
    client, _ = kinesis

    def _install(event, **retry):
        settings = load_settings()
        if retry:
            settings = dataclasses.replace(settings, retry=RetryPolicy(**retry))
        service = IngestService(
            settings,
            kinesis_client=client,
            clock=lambda: request_time(event),
            sleep=sleeps.append,
            jitter=lambda: 1.0,
        )
        handler.reset_service(service)
        return service

    yield _install
    handler.reset_service(None)


def ok(n: int) -> dict:
    return {  # botocore's model omits FailedRecordCount when it is zero (its minimum is 1)
        "Records": [
            {"SequenceNumber": str(49600000000000000000 + i), "ShardId": "shardId-000000000000"}
            for i in range(n)
        ],
    }


def partial(codes: list[str | None]) -> dict:
    records = [
        {"ErrorCode": code, "ErrorMessage": f"{code} for test"}
        if code
        else {"SequenceNumber": "49600000000000000001", "ShardId": "shardId-000000000001"}
        for code in codes
    ]
    return {"FailedRecordCount": sum(1 for c in codes if c), "Records": records}


def invoke(event, context):
    response = handler.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def quarantined_lines(lake: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(lake.rglob("*.jsonl"))
        for line in path.read_text().split("\n")
        if line
    ]


# --- recorded events -------------------------------------------------------------------------------


def test_rest_v1_single_event_is_accepted_and_streamed_with_server_metadata(install, kinesis, lambda_context):
    event = load_event("apigw_rest_v1_single")
    install(event)
    _, stubber = kinesis
    stubber.add_response("put_records", ok(1), {"StreamName": STREAM, "Records": ANY})

    status, body, headers = invoke(event, lambda_context)

    assert status == 200
    assert body["accepted"] == 1 and body["rejected"] == 0
    assert body["results"] == [{"index": 0, "event_id": body_of(event)["event_id"], "status": "accepted"}]
    assert headers["x-request-id"] == event["requestContext"]["requestId"]
    [record] = stubber.calls[0]
    assert record["PartitionKey"] == body_of(event)["anonymous_id"]  # user_id is null before login
    envelope = json.loads(record["Data"])
    assert envelope["event"] == body_of(event)
    meta = envelope["meta"]
    assert meta["source_app"] == "demo-app"
    assert meta["received_at"] == "2025-11-20T12:00:00.123Z"
    assert meta["request_id"] == event["requestContext"]["requestId"]
    assert meta["client_ip_hash"] == hashlib.sha256(SALT.encode() + b"203.0.113.42").hexdigest()
    assert meta["user_agent"]["browser_family"] == "Safari"
    assert meta["user_agent"]["os_family"] == "Mac OS X"
    assert meta["api_version"] == "v1" and meta["contract_version"] == event_contract.CONTRACT_VERSION
    jsonschema.Draft202012Validator(event_contract.envelope_schema()).validate(envelope)


def test_http_v2_batch_is_accepted_in_one_put_records_call_keyed_by_user(install, kinesis, lambda_context):
    event = load_event("apigw_http_v2_batch")
    install(event)
    _, stubber = kinesis
    stubber.add_response("put_records", ok(5))

    status, body, _ = invoke(event, lambda_context)

    assert status == 200
    assert [r["status"] for r in body["results"]] == ["accepted"] * 5
    assert len(stubber.calls) == 1
    assert {r["PartitionKey"] for r in stubber.calls[0]} == {"user_81234"}
    assert [json.loads(r["Data"])["event"]["event_type"] for r in stubber.calls[0]] == [
        "screen_view",
        "click",
        "add_to_cart",
        "purchase",
        "signup",
    ]
    assert json.loads(stubber.calls[0][0]["Data"])["meta"]["user_agent"]["os_family"] == "iOS"
    envelope_validator = jsonschema.Draft202012Validator(event_contract.envelope_schema())
    for record in stubber.calls[0]:
        envelope_validator.validate(json.loads(record["Data"]))


def test_base64_encoded_rest_body_is_decoded_and_ipv6_is_hashed(install, kinesis, lambda_context):
    event = load_event("apigw_rest_v1_base64_single")
    install(event)
    _, stubber = kinesis
    stubber.add_response("put_records", ok(1))

    status, _, _ = invoke(event, lambda_context)

    assert status == 200
    meta = json.loads(stubber.calls[0][0]["Data"])["meta"]
    assert meta["client_ip_hash"] == hashlib.sha256(SALT.encode() + b"2001:db8::5a1e").hexdigest()


def test_mixed_batch_returns_207_with_per_event_results_and_quarantines_the_rejects(
    install, kinesis, lambda_context, lake
):
    event = load_event("apigw_http_v2_mixed_batch")
    install(event)
    _, stubber = kinesis
    stubber.add_response("put_records", ok(2))

    status, body, _ = invoke(event, lambda_context)

    assert status == 207
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (2, 3, 1)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted", "rejected", "rejected", "rejected", "duplicate", "accepted"]
    assert "event_id" in body["results"][1]["reason"]
    assert "properties.currency" in body["results"][2]["reason"]
    assert "unknown event type 'hover'" in body["results"][3]["reason"]
    assert all(r["quarantined"] for r in body["results"][1:4])
    lines = quarantined_lines(lake)
    assert [line["index"] for line in lines] == [1, 2, 3]
    assert {line["stage"] for line in lines} == {"validation"}
    assert lines[1]["event"] == body_of(event)["events"][2]
    assert lines[0]["request_id"] == "JKJbYnQMwIdFTIB="
    [path] = lake.rglob("*.jsonl")
    assert (
        path.relative_to(lake).as_posix() == "quarantine/ingest/ingest_date=2025-11-20/JKJbYnQMwIdFTIB_.jsonl"
    )


def test_in_batch_duplicates_are_accepted_once(install, kinesis, lambda_context):
    event = load_event("apigw_http_v2_batch")
    install(event)
    first = body_of(event)["events"][0]
    _, stubber = kinesis
    stubber.add_response("put_records", ok(1))

    status, body, _ = invoke(with_body(event, {"events": [first, first, {**first}]}), lambda_context)

    assert status == 200
    assert [r["status"] for r in body["results"]] == ["accepted", "duplicate", "duplicate"]
    assert body["duplicates"] == 2
    assert len(stubber.calls[0]) == 1


# --- request-level bad input ---------------------------------------------------------------------


def _deep(depth: int) -> str:
    return '{"events": [' + "[" * depth + "]" * depth + "]}"


BAD_REQUESTS = [
    ("malformed JSON", {"body": '{"events": [', "raw": True}, 400, "invalid_json"),
    ("NaN", {"body": '{"event_id": NaN}', "raw": True}, 400, "invalid_json"),
    ("Infinity", {"body": '{"events": [Infinity]}', "raw": True}, 400, "invalid_json"),
    ("invalid UTF-8", {"body": b'{"events": ["\xff\xfe"]}'}, 400, "invalid_json"),
    ("lone surrogate", {"body": '{"events": ["\\ud800"]}', "raw": True}, 400, "invalid_json"),
    ("empty body", {"body": "", "raw": True}, 400, "empty_body"),
    ("whitespace body", {"body": " \n\t", "raw": True}, 400, "empty_body"),
    ("JSON array", {"body": [1, 2]}, 400, "invalid_shape"),
    ("JSON string", {"body": "hello"}, 400, "invalid_shape"),
    ("events not a list", {"body": {"events": {"a": 1}}}, 400, "invalid_shape"),
    ("batch with extra keys", {"body": {"events": [], "sent_at": "x"}}, 400, "invalid_shape"),
    ("empty batch", {"body": {"events": []}}, 400, "empty_batch"),
    ("over-limit batch", {"body": {"events": [{}] * (MAX_BATCH_EVENTS + 1)}}, 400, "batch_too_large"),
    ("deeply nested JSON", {"body": _deep(5000), "raw": True}, 400, "invalid_json"),
    (
        "over-limit body",
        {"body": '{"events": ["' + "x" * MAX_BODY_BYTES + '"]}', "raw": True},
        413,
        "body_too_large",
    ),
    ("over-limit base64 body", {"body": b" " * (MAX_BODY_BYTES + 1)}, 413, "body_too_large"),
]


@pytest.mark.parametrize(
    ("body", "status", "code"), [c[1:] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_bodies_get_a_clear_4xx(install, lambda_context, lake, body, status, code):
    event = load_event("apigw_http_v2_batch")
    install(event)

    got_status, response, _ = invoke(with_body(event, **body), lambda_context)

    assert (got_status, response["error"]["code"]) == (status, code)
    assert response["error"]["message"]
    assert response["accepted"] == 0
    assert not list(lake.rglob("*.jsonl"))  # request-level errors are not events


BAD_HEADERS = [
    ("missing content type", {"content_type": None}, 415, "unsupported_media_type"),
    ("text/plain", {"content_type": "text/plain"}, 415, "unsupported_media_type"),
    (
        "form content type",
        {"content_type": "application/x-www-form-urlencoded"},
        415,
        "unsupported_media_type",
    ),
    ("latin-1 charset", {"content_type": "application/json; charset=latin-1"}, 415, "unsupported_media_type"),
    ("missing api key", {"x_api_key": None}, 401, "missing_api_key"),
    ("unknown api key", {"x_api_key": "guess"}, 403, "invalid_api_key"),
]


@pytest.mark.parametrize(
    ("headers", "status", "code"), [c[1:] for c in BAD_HEADERS], ids=[c[0] for c in BAD_HEADERS]
)
def test_bad_headers_get_a_clear_4xx(install, lambda_context, headers, status, code):
    event = load_event("apigw_http_v2_batch")
    install(event)

    got_status, response, _ = invoke(with_headers(event, **headers), lambda_context)

    assert (got_status, response["error"]["code"]) == (status, code)


def test_header_names_are_case_insensitive_and_charset_utf8_is_fine(install, kinesis, lambda_context):
    event = load_event("apigw_rest_v1_single")
    install(event)
    kinesis[1].add_response("put_records", ok(1))
    event["headers"] = {**event["headers"], "Content-Type": "Application/JSON; Charset=UTF-8"}

    assert invoke(event, lambda_context)[0] == 200


def test_wrong_method_and_path_are_405_and_404(install, lambda_context):
    event = load_event("apigw_rest_v1_single")
    install(event)

    get_status, _, get_headers = invoke({**event, "httpMethod": "GET"}, lambda_context)
    path_status, path_body, _ = invoke({**event, "path": "/v1/users"}, lambda_context)

    assert (get_status, get_headers["Allow"]) == (405, "POST")
    assert (path_status, path_body["error"]["code"]) == (404, "not_found")


def test_invalid_base64_body_is_400(install, lambda_context):
    event = load_event("apigw_rest_v1_base64_single")
    install(event)

    status, body, _ = invoke({**event, "body": "%%%not-base64%%%"}, lambda_context)

    assert (status, body["error"]["code"]) == (400, "undecodable_body")


# --- event-level bad input -----------------------------------------------------------------------


def _mutations():
    def set_path(path, value):
        def mutate(event):
            node = event
            *parents, leaf = path.split(".")
            for part in parents:
                node = node[part]
            node[leaf] = value

        return mutate

    def delete(path):
        def mutate(event):
            node = event
            *parents, leaf = path.split(".")
            for part in parents:
                node = node[part]
            del node[leaf]

        return mutate

    nested: dict = {}
    for _ in range(200):
        nested = {"a": nested}
    return [
        ("unknown event type", set_path("event_type", "hover"), "unknown event type"),
        ("missing field", delete("session_id"), "session_id"),
        ("missing property", delete("properties.order_id"), "order_id"),
        ("extra field", set_path("utm", "x"), "utm"),
        ("extra property", set_path("properties.discount_pct", 5), "discount_pct"),
        ("ill-typed field", set_path("properties.revenue", "19.00"), "properties.revenue"),
        (
            "boolean as number",
            set_path("properties.items", [{"product_id": "a", "quantity": True, "price": 1}]),
            "quantity",
        ),
        ("non-UUID id", set_path("event_id", "order-1-click"), "event_id"),
        ("unparseable timestamp", set_path("occurred_at", "20/11/2025 12:00"), "occurred_at"),
        ("impossible date", set_path("occurred_at", "2025-11-31T10:00:00Z"), "occurred_at"),
        ("timestamp too far in the future", set_path("occurred_at", "2025-11-22T12:00:00Z"), "future"),
        ("timestamp too old", set_path("occurred_at", "2025-10-01T12:00:00Z"), "older than 30 days"),
        ("huge string", set_path("properties.coupon", "x" * 200_000), "properties.coupon"),
        ("deeply nested object", set_path("properties.coupon", nested), "properties.coupon"),
        ("unknown currency", set_path("properties.currency", "XXX"), "properties.currency"),
        ("negative revenue", set_path("properties.revenue", -1), "properties.revenue"),
        (
            "too many items",
            set_path("properties.items", [{"product_id": "a", "quantity": 1, "price": 1}] * 101),
            "items",
        ),
        ("bad platform", set_path("device.platform", "windows-phone"), "device.platform"),
        ("non-string user id", set_path("user_id", 12345), "user_id"),
        ("schema version 2", set_path("schema_version", "2.0"), "schema_version"),
    ]


MUTATIONS = _mutations()


@pytest.mark.parametrize(("mutate", "expected"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_invalid_events_are_rejected_with_400_a_reason_and_a_quarantine_record(
    install, lambda_context, lake, mutate, expected
):
    event = load_event("apigw_http_v2_batch")
    install(event)
    purchase = valid_event("purchase", request_time(event))
    mutate(purchase)

    status, body, _ = invoke(with_body(event, purchase), lambda_context)

    assert status == 400
    assert body["error"]["code"] == "no_valid_events"
    [result] = body["results"]
    assert result["status"] == "rejected" and result["quarantined"] is True
    assert expected in result["reason"]
    [line] = quarantined_lines(lake)
    assert line["stage"] == "validation" and stored_event_matches(line, purchase)


def stored_event_matches(line: dict, sent) -> bool:
    """The quarantine holds the event whole, or (past 96 KiB of JSON) its 4 KiB prefix, length and hash."""
    encoded = json.dumps(sent, ensure_ascii=True, separators=(",", ":")).encode()
    if line["event_bytes"] != len(encoded) or line["event_sha256"] != hashlib.sha256(encoded).hexdigest():
        return False
    if line.get("event_truncated"):
        return line["event"] is None and line["event_prefix"] == encoded[:4096].decode()
    return line["event"] == sent


def test_oversized_event_is_rejected_by_the_per_event_limit(install, lambda_context, monkeypatch):
    event = load_event("apigw_http_v2_batch")
    install(event)
    monkeypatch.setattr("edp.ingest.service.MAX_EVENT_BYTES", 600)
    purchase = valid_event("purchase", request_time(event))
    purchase["properties"]["items"] = [
        {"product_id": f"SKU-{i}", "quantity": 1, "price": 1.5} for i in range(30)
    ]

    status, body, _ = invoke(with_body(event, purchase), lambda_context)

    assert status == 400
    assert "at most 600" in body["results"][0]["reason"]


def test_integral_floats_at_integer_fields_are_streamed_as_integers(install, kinesis, lambda_context):
    event = load_event("apigw_http_v2_batch")
    install(event)
    kinesis[1].add_response("put_records", ok(1))
    cart = valid_event("add_to_cart", request_time(event))
    cart["properties"]["quantity"] = 3.0

    assert invoke(with_body(event, cart), lambda_context)[0] == 200
    assert b'"quantity":3,' in kinesis[1].calls[0][0]["Data"]


# --- authentication -----------------------------------------------------------------------------


def test_each_api_key_maps_to_its_app(install, kinesis, lambda_context):
    event = with_headers(load_event("apigw_http_v2_batch"), x_api_key="ios-key-7f3a")
    install(event)
    kinesis[1].add_response("put_records", ok(5))

    invoke(event, lambda_context)

    assert json.loads(kinesis[1].calls[0][0]["Data"])["meta"]["source_app"] == "shop-ios"


def test_an_api_gateway_authorizer_identity_is_trusted_without_a_key(install, kinesis, lambda_context):
    event = with_headers(load_event("apigw_http_v2_batch"), x_api_key=None)
    event["requestContext"]["authorizer"] = {"lambda": {"source_app": "partner-feed"}}
    install(event)
    kinesis[1].add_response("put_records", ok(5))

    assert invoke(event, lambda_context)[0] == 200
    assert json.loads(kinesis[1].calls[0][0]["Data"])["meta"]["source_app"] == "partner-feed"


def test_a_usage_plan_validated_key_missing_from_the_map_is_named_by_key_id(install, kinesis, lambda_context):
    event = with_headers(load_event("apigw_rest_v1_single"), x_api_key="rotated-key-not-in-config")
    install(event)
    kinesis[1].add_response("put_records", ok(1))

    assert invoke(event, lambda_context)[0] == 200
    assert json.loads(kinesis[1].calls[0][0]["Data"])["meta"]["source_app"] == "apikey-q1w2e3r4t5"


def test_aws_environment_without_keys_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    monkeypatch.delenv("INGEST_API_KEYS", raising=False)
    monkeypatch.delenv("INGEST_API_KEYS_SECRET_ID", raising=False)
    monkeypatch.setenv("INGEST_IP_SALT", SALT)

    with pytest.raises(ConfigurationError, match="INGEST_API_KEYS"):
        load_settings()


def test_aws_environment_reads_keys_and_salt_from_secrets_manager(monkeypatch):
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    monkeypatch.delenv("INGEST_API_KEYS", raising=False)
    monkeypatch.delenv("INGEST_IP_SALT", raising=False)
    monkeypatch.setenv("INGEST_API_KEYS_SECRET_ID", "edp/ingest/api-keys")
    monkeypatch.setenv("INGEST_IP_SALT_SECRET_ID", "edp/ingest/ip-salt")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secrets.create_secret(Name="edp/ingest/api-keys", SecretString=json.dumps({"prod-key-1": "shop-web"}))
        secrets.create_secret(Name="edp/ingest/ip-salt", SecretString="prod-salt")

        settings = load_settings()

    assert settings.app_for_key("prod-key-1") == "shop-web"
    assert settings.app_for_key("local-demo-key") is None  # no demo key outside local
    assert settings.ip_salt == b"prod-salt"
    assert settings.quarantine_root == "s3://edp-lake/lake/quarantine"


def test_local_environment_defaults_to_the_documented_demo_key(monkeypatch):
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.delenv("INGEST_API_KEYS", raising=False)
    monkeypatch.delenv("INGEST_IP_SALT", raising=False)

    assert load_settings().app_for_key("local-demo-key") == "demo-web"


# --- Kinesis failures ---------------------------------------------------------------------------


def test_partial_failures_retry_only_the_failed_entries_with_backoff(
    install, kinesis, lambda_context, sleeps
):
    event = load_event("apigw_http_v2_batch")
    install(event)
    _, stubber = kinesis
    stubber.add_response(
        "put_records",
        partial([None, "ProvisionedThroughputExceededException", None, "InternalFailure", None]),
    )
    stubber.add_response("put_records", partial([None, "ProvisionedThroughputExceededException"]))
    stubber.add_response("put_records", ok(1))

    status, body, _ = invoke(event, lambda_context)

    assert status == 200 and body["accepted"] == 5
    ids = [[json.loads(r["Data"])["event"]["event_id"] for r in call] for call in stubber.calls]
    events = body_of(event)["events"]
    assert ids[1] == [events[1]["event_id"], events[3]["event_id"]]
    assert ids[2] == [events[3]["event_id"]]
    assert sleeps == [0.05, 0.1]  # full jitter with jitter()=1.0 hits the exponential ceiling


def test_entries_still_failing_after_the_last_attempt_are_quarantined_not_lost(
    install, kinesis, lambda_context, lake, sleeps
):
    event = load_event("apigw_http_v2_batch")
    install(event, max_attempts=3)
    _, stubber = kinesis
    throttled = "ProvisionedThroughputExceededException"
    stubber.add_response("put_records", partial([throttled, None, None, None, None]))
    stubber.add_response("put_records", partial([throttled]))
    stubber.add_response("put_records", partial([throttled]))

    status, body, _ = invoke(event, lambda_context)

    assert status == 207
    assert body["results"][0]["status"] == "rejected" and body["results"][0]["quarantined"]
    assert "gave up after 3 attempt(s)" in body["results"][0]["reason"]
    [line] = quarantined_lines(lake)
    assert line["stage"] == "stream" and line["event"] == body_of(event)["events"][0]
    assert len(sleeps) == 2


def test_a_stream_that_stays_throttled_answers_429_with_retry_after(install, kinesis, lambda_context, lake):
    event = load_event("apigw_rest_v1_single")
    install(event, max_attempts=2)
    _, stubber = kinesis
    stubber.add_client_error("put_records", "ProvisionedThroughputExceededException", "Rate exceeded")
    stubber.add_client_error("put_records", "ProvisionedThroughputExceededException", "Rate exceeded")

    status, body, headers = invoke(event, lambda_context)

    assert (status, body["error"]["code"], headers["Retry-After"]) == (429, "stream_throttled", "1")
    assert len(quarantined_lines(lake)) == 1


def test_a_non_retryable_stream_error_is_quarantined_at_once_and_answers_503(
    install, kinesis, lambda_context, lake
):
    event = load_event("apigw_rest_v1_single")
    install(event)
    _, stubber = kinesis
    stubber.add_client_error("put_records", "ResourceNotFoundException", "Stream edp-events not found")

    status, body, _ = invoke(event, lambda_context)

    assert (status, body["error"]["code"]) == (503, "stream_unavailable")
    assert len(stubber.calls) == 1
    assert "ResourceNotFoundException" in quarantined_lines(lake)[0]["reason"]


def test_retries_stop_when_the_lambda_is_about_to_time_out(install, kinesis, lake):
    event = load_event("apigw_rest_v1_single")
    install(event)
    _, stubber = kinesis
    stubber.add_client_error("put_records", "InternalFailure", "try later")

    status, _, _ = invoke(event, FakeLambdaContext(remaining_ms=500))

    assert status == 503
    assert len(stubber.calls) == 1


def test_metrics_are_emitted_as_embedded_metric_format(install, kinesis, lambda_context, capsys):
    event = load_event("apigw_http_v2_mixed_batch")
    install(event)
    kinesis[1].add_response("put_records", ok(2))

    invoke(event, lambda_context)

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    request_blob = next(b for b in blobs if "Accepted" in b)
    counts = (request_blob["Accepted"], request_blob["Rejected"], request_blob["Quarantined"])
    assert counts == ([2.0], [3.0], [3.0])
    assert request_blob["source_app"] == "demo-app"


# --- writer and sinks ---------------------------------------------------------------------------


def test_chunks_respect_500_records_and_5_mib_per_call():
    small = [StreamRecord.of(i, b"x" * 10, "k") for i in range(1201)]
    big = [StreamRecord.of(i, b"x" * (900 * 1024), "k") for i in range(12)]

    assert [len(c) for c in chunks(small)] == [500, 500, 201]
    big_chunks = list(chunks(big))
    assert [len(c) for c in big_chunks] == [5, 5, 2]
    assert all(sum(r.size for r in c) <= MAX_BYTES_PER_CALL for c in big_chunks)
    assert [r.index for c in big_chunks for r in c] == list(range(12))


def test_writer_sends_one_call_per_chunk(kinesis):
    client, stubber = kinesis
    for size in (500, 500, 3):
        stubber.add_response("put_records", ok(size))
    writer = KinesisWriter(client, STREAM, RetryPolicy(), sleep=lambda _: None)

    result = writer.put([StreamRecord.of(i, b"{}", f"user-{i % 7}") for i in range(1003)])

    assert sorted(result.written) == list(range(1003)) and not result.failed
    assert [len(c) for c in stubber.calls] == [500, 500, 3]


def test_writer_retries_connection_errors_of_the_whole_call(kinesis):
    client, stubber = kinesis
    stubber.add_client_error("put_records", "ServiceUnavailable", "busy", http_status_code=503)
    stubber.add_response("put_records", ok(2))
    writer = KinesisWriter(client, STREAM, RetryPolicy(), sleep=lambda _: None)

    result = writer.put([StreamRecord.of(0, b"{}", "a"), StreamRecord.of(1, b"{}", "b")])

    assert sorted(result.written) == [0, 1] and result.calls == 2


def test_quarantine_goes_to_s3_when_the_lake_is_on_s3():
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    sink = S3Quarantine("s3://edp-lake/lake/quarantine", client=s3)
    with Stubber(s3) as stubber:
        stubber.add_response(
            "put_object",
            {"ETag": '"abc"'},
            {
                "Bucket": "edp-lake",
                "Key": "lake/quarantine/ingest/ingest_date=2025-11-20/req-1.jsonl",
                "Body": b'{"a":1}\n{"b":2}\n',
                "ContentType": "application/x-ndjson",
            },
        )
        location = sink.write("ingest/ingest_date=2025-11-20/req-1.jsonl", [b'{"a":1}', b'{"b":2}'])
        stubber.assert_no_pending_responses()

    assert location == "s3://edp-lake/lake/quarantine/ingest/ingest_date=2025-11-20/req-1.jsonl"
    assert isinstance(quarantine_sink_for("s3://bucket/q"), S3Quarantine)
    assert isinstance(quarantine_sink_for("/tmp/lake/quarantine"), LocalQuarantine)


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_a_failing_quarantine_fails_the_request_instead_of_losing_events(install, lambda_context):
    event = load_event("apigw_http_v2_mixed_batch")
    service = install(event)

    class BrokenSink:
        def write(self, key, lines):
            raise OSError("disk full")

    service.quarantine = BrokenSink()
    with pytest.raises(OSError, match="disk full"):
        handler.lambda_handler(with_body(event, {"events": [{"event_type": "nope"}]}), lambda_context)
