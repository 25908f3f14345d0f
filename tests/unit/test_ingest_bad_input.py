"""Hostile and odd requests against the ingest Lambda: each gets its documented 4xx, or 207 with the
valid events streamed and the bad ones quarantined with a reason; never a 5xx, nothing lost.

Kinesis is moto's in-process mock, the quarantine a temporary directory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import orjson
import pytest
from moto import mock_aws

from edp.ingest import handler, service
from edp.ingest.quarantine_record import STORED_PREFIX_BYTES, encode_event
from edp.ingest.service import IngestService
from edp.ingest.settings import load_settings
from tests.events.apigw import FakeLambdaContext, load_event, request_time, valid_event, with_body

pytestmark = pytest.mark.unit

STREAM = "edp-events"


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiUnderTest]:
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("PLATFORM__LAKE__ROOT", str(tmp_path))
    monkeypatch.setenv("PLATFORM__STREAM__NAME", STREAM)
    monkeypatch.delenv("INGEST_API_KEYS", raising=False)  # the documented local demo key
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        template = load_event("apigw_rest_v1_single")
        clock = request_time(template)
        handler.reset_service(IngestService(load_settings(), kinesis_client=kinesis, clock=lambda: clock))
        yield ApiUnderTest(template, kinesis, tmp_path)
    handler.reset_service(None)


class ApiUnderTest:
    def __init__(self, template: dict, kinesis, lake: Path) -> None:
        self.template = template
        self.kinesis = kinesis
        self.lake = lake
        self.received = request_time(template)

    def event(self, event_type: str = "page_view", **overrides) -> dict:
        return valid_event(event_type, self.received, **overrides)

    def post(self, body, *, raw: bool = False, method: str = "POST", path: str = "/v1/events"):
        request = with_body(self.template, body, raw=raw)
        request["httpMethod"], request["path"] = method, path
        response = handler.lambda_handler(request, FakeLambdaContext())
        return response["statusCode"], json.loads(response["body"]), response["headers"]

    def streamed(self) -> list[dict]:
        shard = self.kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
        iterator = self.kinesis.get_shard_iterator(
            StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        return [json.loads(r["Data"]) for r in self.kinesis.get_records(ShardIterator=iterator)["Records"]]

    def quarantined(self) -> list[dict]:
        return [  # orjson: the stdlib decoder recurses and gives up before 1,000 levels
            orjson.loads(line)
            for path in sorted(self.lake.rglob("*.jsonl"))
            for line in path.read_text().splitlines()
            if line
        ]


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def test_an_object_nested_1000_deep_is_400_and_quarantined_whole(api):
    status, body, _ = api.post(nested(1000).decode(), raw=True)

    assert status == 400 and body["error"]["code"] == "no_valid_events"
    [line] = api.quarantined()
    assert line["reason"].startswith("event_type") and encode_event(line["event"]) == nested(1000)
    assert line["event_bytes"] == len(nested(1000))
    assert line["event_sha256"] == hashlib.sha256(nested(1000)).hexdigest()


def test_a_batch_with_one_event_nested_1000_deep_still_streams_its_valid_event(api):
    good = api.event()
    raw = b'{"events":[' + json.dumps(good).encode() + b"," + nested(1000) + b"]}"

    status, body, _ = api.post(raw.decode(), raw=True)

    assert status == 207
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"]
    assert [r["event"]["event_id"] for r in api.streamed()] == [good["event_id"]]
    [line] = api.quarantined()
    assert line["index"] == 1 and line["reason"] and line["event_bytes"] == len(nested(1000))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(nested(1025), "invalid_json", id="deeper than orjson's 1,024 levels"),
        pytest.param(b'{"events":[' + b"[" * 1030 + b"]" * 1030 + b"]}", "invalid_json", id="deep arrays"),
        pytest.param(b'{"events":[1e400]}', "invalid_json", id="a number past double range"),
        pytest.param(b'{"events":[NaN]}', "invalid_json", id="NaN"),
        pytest.param(b'{"events":[-Infinity]}', "invalid_json", id="Infinity"),
        pytest.param(b'{"events":["\\ud800"]}', "invalid_json", id="a lone surrogate escape"),
        pytest.param(b'{"events":["\xed\xa0\x80"]}', "invalid_json", id="a lone surrogate in UTF-8"),
        pytest.param(b'{"events":[{}],"events":[{}]}', "duplicate_key", id="two events keys"),
        pytest.param(b'{"events":[{}],"\\u0065vents":[{}]}', "duplicate_key", id="an escaped events key"),
    ],
)
def test_bodies_no_json_decoder_should_guess_at_are_400_with_a_code(api, body, code):
    status, response, _ = api.post(body)

    assert status == 400 and response["error"]["code"] == code
    assert response["results"] == [] and api.streamed() == []


def test_huge_integers_and_wide_objects_are_rejected_per_event_with_a_reason(api):
    huge = api.event("add_to_cart")
    wide = api.event()
    wide["properties"] = {f"k{i}": i for i in range(50_000)}
    raw = json.dumps({"events": [huge, wide, api.event()]}).replace(
        '"quantity": 2', '"quantity": ' + "9" * 40
    )

    status, body, _ = api.post(raw, raw=True)

    assert status == 207
    rejected = [r for r in body["results"] if r["status"] == "rejected"]
    assert [r["index"] for r in rejected] == [0, 1]
    assert "properties.quantity" in rejected[0]["reason"]
    assert "must not contain" in rejected[1]["reason"] and len(rejected[1]["reason"]) < 2500  # 50k keys
    assert len(api.streamed()) == 1 and len(api.quarantined()) == 2


def test_an_oversize_event_is_quarantined_as_a_bounded_prefix_with_length_and_hash(api):
    event = api.event("app_error")
    event["properties"]["stack"] = "x" * 900_000

    status, _, _ = api.post({"events": [event, api.event()]})

    assert status == 207
    [line] = api.quarantined()
    encoded = encode_event(event)
    assert line["event"] is None and line["event_truncated"] is True
    assert line["event_prefix"] == encoded[:STORED_PREFIX_BYTES].decode()
    assert line["event_bytes"] == len(encoded) and line["event_sha256"] == hashlib.sha256(encoded).hexdigest()
    assert sum(p.stat().st_size for p in api.lake.rglob("*.jsonl")) < 2 * STORED_PREFIX_BYTES


def test_an_event_that_breaks_processing_is_rejected_alone_and_the_batch_goes_on(api, monkeypatch):
    real = service.normalize_event
    poison = api.event()

    def explode_on_poison(event):
        if event["event_id"] == poison["event_id"]:
            raise RuntimeError("unexpected")
        return real(event)

    monkeypatch.setattr(service, "normalize_event", explode_on_poison)
    good = api.event()

    status, body, _ = api.post({"events": [poison, good]})

    assert status == 207
    assert body["results"][0]["status"] == "rejected"
    assert body["results"][0]["reason"] == "event: could not be processed (RuntimeError)"
    assert [r["event"]["event_id"] for r in api.streamed()] == [good["event_id"]]
    [line] = api.quarantined()
    assert line["event"] == poison


def test_control_characters_in_free_text_reach_the_stream_as_replacement_characters(api):
    event = api.event("app_error")
    event["properties"]["message"] = "line one\nNUL\x00 bell\x07 nel\x85 ls\u2028 ps\u2029 tab\tend"

    status, _, _ = api.post(event)

    assert status == 200
    [record] = api.streamed()
    assert record["event"]["properties"]["message"] == (
        "line one\nNUL\ufffd bell\ufffd nel\ufffd ls\ufffd ps\ufffd tab\tend"
    )


def test_a_repeated_key_inside_an_event_keeps_the_last_value_as_documented(api):
    event = api.event()
    raw = json.dumps(event)[:-1] + ', "session_id": "the-last-one"}'

    status, body, _ = api.post(raw, raw=True)

    assert status == 200 and body["accepted"] == 1
    assert api.streamed()[0]["event"]["session_id"] == "the-last-one"


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "FOO"])
def test_an_undeclared_method_on_events_is_405_with_allow_in_the_error_shape(api, method):
    status, body, headers = api.post(api.event(), method=method)

    assert status == 405 and headers["Allow"] == "POST"
    assert body["error"]["code"] == "method_not_allowed" and body["results"] == []


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
def test_an_undeclared_method_on_health_is_405_with_allow_get(api, method):
    status, body, headers = api.post("", raw=True, method=method, path="/v1/health")

    assert status == 405 and headers["Allow"] == "GET" and body["error"]["code"] == "method_not_allowed"


def test_health_answers_without_a_key_and_unknown_paths_are_404_in_the_error_shape(api):
    assert api.post("", raw=True, method="GET", path="/v1/health")[:2] == (200, service.HEALTH_BODY)
    status, body, _ = api.post(api.event(), path="/v2/events")
    assert status == 404 and body["error"]["code"] == "not_found" and body["accepted"] == 0


def test_an_invocation_that_is_no_proxy_event_is_404_not_a_crash(api):
    for event in ({}, {"requestContext": "junk", "headers": 7}, {"version": "2.0"}):
        response = handler.lambda_handler(event, FakeLambdaContext())
        assert response["statusCode"] == 404
