"""Properties of the ingest Lambda: any input yields 2xx/4xx, and no valid event is ever lost.

Deep, wide and odd JSON (200 to 1,100 levels, 20,000 keys, 1e400, NaN, lone surrogates) comes from
strategies that write raw bytes, since ``json.dumps`` cannot produce it.

Kinesis is moto's in-process mock (first property) or a botocore Stubber replaying generated
failure scripts (second property).
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import orjson
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import event as label_example
from hypothesis import strategies as st
from moto import mock_aws

from edp.contract import EVENT_TYPES
from edp.ingest import handler
from edp.ingest.kinesis import RETRYABLE, THROTTLED
from edp.ingest.service import IngestService
from edp.ingest.settings import load_settings
from tests.events.apigw import FakeLambdaContext, load_event, valid_event

pytestmark = pytest.mark.unit

RECEIVED = datetime(2025, 11, 20, 12, 0, 0, 123000, tzinfo=UTC)
STREAM = "edp-events"
GOOD_KEY = "local-demo-key"

printable_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=24)
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)


@st.composite
def valid_events(draw):
    event_type = draw(st.sampled_from(EVENT_TYPES))
    # valid_event puts occurred_at one minute before the anchor; keep it inside [-30 d, +24 h]
    anchor = RECEIVED + timedelta(seconds=draw(st.integers(-29 * 86400, 23 * 3600)))
    return valid_event(
        event_type,
        anchor,
        event_id=str(draw(st.uuids())),
        user_id=draw(st.none() | printable_ids),
        anonymous_id=draw(printable_ids),
        session_id=draw(printable_ids),
    )


@st.composite
def broken_events(draw):
    event = copy.deepcopy(draw(valid_events()))
    key = draw(st.sampled_from(sorted(event)))
    action = draw(st.sampled_from(["drop", "junk", "extra"]))
    if action == "drop":
        del event[key]
    elif action == "junk":
        event[key] = draw(json_values)
    else:
        event["x_" + draw(st.text(max_size=8))] = draw(json_values)
    return event


# ---- deep, wide and odd JSON, as raw bytes (json.dumps itself cannot write 1,000 levels) ---------

containers = st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'{"\\u2028":', b"}"), (b'{"":[', b"]}")])
odd_leaves = st.sampled_from(
    [
        b"1",
        b"-0.0",
        b"1E-400",  # underflows to 0.0: decodes
        b"12345678901234567890123456789",  # past 64 bits: orjson reads a float
        b"1e400",  # past double range: refused
        b"-" + b"9" * 400,
        b"NaN",
        b"Infinity",
        b'"\\u0000\\u2028\\u0085"',
        b'"\\ud800"',  # a lone surrogate escape: refused
        b'"\\udbff\\udfff"',  # a valid pair
        b"null",
    ]
)


@st.composite
def deep_json(draw) -> bytes:
    """Nesting from 200 to 1,100 levels, mixing arrays and objects: orjson refuses past 1,024."""
    depth = draw(st.integers(200, 1100))
    levels = draw(st.lists(containers, min_size=1, max_size=4))
    opens = b"".join(levels[i % len(levels)][0] for i in range(depth))
    closes = b"".join(levels[i % len(levels)][1] for i in reversed(range(depth)))
    return opens + draw(odd_leaves) + closes


@st.composite
def wide_json(draw) -> bytes:
    """Objects with up to 20,000 keys (odd ones among them) or arrays with up to 50,000 items."""
    if draw(st.booleans()):
        n = draw(st.integers(1000, 20_000))
        odd_key = draw(st.sampled_from([b"", b"\\u0000", b"event_type", b"\\u2028\\u2029", b"x" * 300]))
        pairs = [b'"k%d":%d' % (i, i) for i in range(n)] + [b'"' + odd_key + b'":' + draw(odd_leaves)]
        return b"{" + b",".join(pairs) + b"}"
    leaf = draw(odd_leaves)
    n = draw(st.integers(1000, min(50_000, 900_000 // (len(leaf) + 1))))  # the body stays under 1 MiB
    return b"[" + b",".join([leaf] * n) + b"]"


def _decodes(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


def test_one_deep_wide_or_odd_event_costs_a_batch_nothing_but_itself(lake):
    """A poisonous event in a batch: 207 with the valid events streamed and it quarantined with a
    reason, or, when the body is no JSON orjson reads (too deep, NaN, 1e400, a lone surrogate), 400
    ``invalid_json`` with nothing streamed. Never a 5xx."""
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
        cursor = [
            kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
                "ShardIterator"
            ]
        ]
        handler.reset_service(IngestService(load_settings(), kinesis_client=kinesis, clock=lambda: RECEIVED))
        counter = iter(range(10**9))

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            good=st.lists(valid_events(), min_size=1, max_size=3),
            poison=st.one_of(deep_json(), wide_json(), odd_leaves),
            position=st.integers(0, 3),
        )
        def check(good, poison, position):
            parts = [json.dumps(event).encode() for event in good]
            at = min(position, len(parts))
            parts.insert(at, poison)
            raw = b'{"events":[' + b",".join(parts) + b"]}"
            request = load_event("apigw_rest_v1_single")
            request_id = f"poison-{next(counter)}"
            request["requestContext"]["requestId"] = request_id
            request["body"], request["isBase64Encoded"] = base64.b64encode(raw).decode(), True

            response = handler.lambda_handler(request, FakeLambdaContext())
            body = json.loads(response["body"])
            page = kinesis.get_records(ShardIterator=cursor[0], Limit=10000)
            cursor[0] = page["NextShardIterator"]
            streamed = [json.loads(r["Data"])["event"]["event_id"] for r in page["Records"]]
            label_example(f"status {response['statusCode']}")

            if not _decodes(raw):
                assert response["statusCode"] == 400 and body["error"]["code"] == "invalid_json"
                assert streamed == []
                return
            assert response["statusCode"] == 207, body
            assert streamed == [event["event_id"] for event in good]
            [rejected] = [r for r in body["results"] if r["status"] == "rejected"]
            assert rejected["index"] == at and rejected["reason"]
            [line] = [orjson.loads(x) for x in _lines(lake, request_id)]
            assert line["index"] == at and line["reason"] == rejected["reason"] and line["event_sha256"]

        check()


def _lines(lake: Path, request_id: str) -> list[bytes]:
    return [
        line for path in lake.rglob(f"{request_id}.jsonl") for line in path.read_bytes().splitlines() if line
    ]


# an entry is (is_known_valid, value)
entries = st.one_of(
    valid_events().map(lambda e: (True, e)),
    valid_events().map(lambda e: (True, e)),
    broken_events().map(lambda e: (False, e)),
    json_values.map(lambda v: (False, v)),
)


@st.composite
def requests(draw):
    """A proxy event with arbitrary body and headers, plus which entries are known-valid events."""
    kind = draw(st.sampled_from(["batch", "batch", "single", "bytes", "text", "json"]))
    batch = draw(st.lists(entries, min_size=1, max_size=12)) if kind in ("batch", "single") else []
    if kind == "single":
        batch = batch[:1]
    if kind == "batch":
        raw = json.dumps({"events": [value for _, value in batch]}).encode()
    elif kind == "single":
        raw = json.dumps(batch[0][1]).encode()
    elif kind == "bytes":
        raw = draw(st.binary(max_size=300))
    elif kind == "text":
        raw = draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    else:
        raw = json.dumps(draw(json_values)).encode()
    if draw(st.booleans()):  # half the requests are well addressed, so the event checks get exercised
        headers = {"content-type": "application/json", "x-api-key": GOOD_KEY}
    else:
        headers = {
            "content-type": draw(
                st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"])
                | st.none()
                | st.text(max_size=30)
            ),
            "x-api-key": draw(st.sampled_from([GOOD_KEY, "wrong-key"]) | st.none() | st.text(max_size=20)),
        }
    headers["user-agent"] = draw(st.none() | st.text(max_size=120))
    headers.update(
        draw(
            st.dictionaries(st.text("abcdefxyz-", min_size=1, max_size=10), st.text(max_size=20), max_size=3)
        )
    )
    headers = {k: v for k, v in headers.items() if v is not None}
    method = draw(st.sampled_from(["POST"] * 5 + ["PUT"]))
    encode = draw(st.booleans()) or not _is_utf8(raw)  # API Gateway base64-encodes non-text bodies
    template = load_event(draw(st.sampled_from(["apigw_rest_v1_single", "apigw_http_v2_batch"])))
    template["headers"] = headers
    template.pop("multiValueHeaders", None)
    template["body"] = base64.b64encode(raw).decode() if encode else raw.decode("utf-8", "surrogatepass")
    template["isBase64Encoded"] = encode
    if "httpMethod" in template:
        template["httpMethod"] = method
    else:
        template["requestContext"]["http"]["method"] = method
    well_formed = (
        kind in ("batch", "single")
        and method == "POST"
        and headers.get("x-api-key") == GOOD_KEY
        and headers.get("content-type") in ("application/json", "application/json; charset=utf-8")
    )
    valid_indexes = [i for i, (is_valid, _) in enumerate(batch) if is_valid]
    return template, valid_indexes, well_formed, raw


def _sent_events(raw: bytes) -> list:
    payload = json.loads(raw)
    return payload["events"] if isinstance(payload, dict) and "events" in payload else [payload]


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.fixture
def lake(tmp_path, monkeypatch):
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("PLATFORM__LAKE__ROOT", str(tmp_path))
    monkeypatch.setenv("PLATFORM__STREAM__NAME", STREAM)
    monkeypatch.delenv("INGEST_API_KEYS", raising=False)  # the documented local demo key
    monkeypatch.setenv("INGEST_IP_SALT", "property-salt")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    yield tmp_path
    handler.reset_service(None)


def _quarantined(lake: Path, request_id: str) -> dict[int, dict]:
    lines = [
        json.loads(line) for path in lake.rglob("*.jsonl") for line in path.read_text().split("\n") if line
    ]
    return {line["index"]: line for line in lines if line["request_id"] == request_id}


def test_any_body_and_headers_get_2xx_or_4xx_and_valid_events_reach_the_stream_or_quarantine(lake):
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
        cursor = [
            kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
                "ShardIterator"
            ]
        ]
        handler.reset_service(IngestService(load_settings(), kinesis_client=kinesis, clock=lambda: RECEIVED))
        counter = iter(range(10**9))

        def drain() -> set[str]:
            page = kinesis.get_records(ShardIterator=cursor[0], Limit=10000)
            cursor[0] = page["NextShardIterator"]
            return {json.loads(r["Data"])["event"]["event_id"] for r in page["Records"]}

        @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(requests())
        def check(request):
            event, valid_indexes, well_formed, raw = request
            event["requestContext"]["requestId"] = f"prop-{next(counter)}"
            response = handler.lambda_handler(event, FakeLambdaContext())
            body = json.loads(response["body"])
            streamed = drain()
            label_example(f"status {response['statusCode']}")  # shown by --hypothesis-show-statistics

            assert 200 <= response["statusCode"] < 500, body
            if well_formed and valid_indexes:
                assert response["statusCode"] in (200, 207), body
            results = body["results"]
            sent = _sent_events(raw) if results else []
            quarantined = _quarantined(lake, event["requestContext"]["requestId"])
            for index in valid_indexes if results else ():
                assert results[index]["status"] in ("accepted", "duplicate"), results[index]
            for result in results:
                if result["status"] == "accepted":
                    assert sent[result["index"]]["event_id"] in streamed
                elif result["status"] == "rejected":
                    assert quarantined[result["index"]]["event"] == sent[result["index"]]
            assert body["accepted"] == len(streamed)

        check()


CODES = st.sampled_from([None, None, THROTTLED, "InternalFailure", "KMSAccessDeniedException"])


def test_any_pattern_of_put_records_failures_leaves_every_event_streamed_or_quarantined(lake):
    template = load_event("apigw_http_v2_batch")
    kinesis = boto3.client("kinesis", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    sent_calls: list[list[dict]] = []
    kinesis.meta.events.register(
        "provide-client-params.kinesis.PutRecords", lambda params, **_: sent_calls.append(params["Records"])
    )
    counter = iter(range(10**9))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(n=st.integers(1, 25), data=st.data())
    def check(n, data):
        anchor = RECEIVED
        events = [valid_event(EVENT_TYPES[i % len(EVENT_TYPES)], anchor) for i in range(n)]
        request_id = f"fail-{next(counter)}"
        event = copy.deepcopy(template)
        event["body"] = json.dumps({"events": events})
        event["requestContext"]["requestId"] = request_id
        service = IngestService(
            load_settings(), kinesis_client=kinesis, clock=lambda: RECEIVED, sleep=lambda _: None
        )
        handler.reset_service(service)
        sent_calls.clear()
        pending = list(range(n))
        expected_written: set[int] = set()
        scripts = []
        with Stubber(kinesis) as stubber:
            for _ in range(service.settings.retry.max_attempts):
                codes = data.draw(st.lists(CODES, min_size=len(pending), max_size=len(pending)))
                scripts.append((list(pending), codes))
                stubber.add_response("put_records", _response(codes))
                expected_written |= {i for i, c in zip(pending, codes, strict=True) if c is None}
                pending = [i for i, c in zip(pending, codes, strict=True) if c in RETRYABLE]
                if not pending:
                    break
            response = handler.lambda_handler(event, FakeLambdaContext())
            stubber.assert_no_pending_responses()

        body = json.loads(response["body"])
        accepted = {r["index"] for r in body["results"] if r["status"] == "accepted"}
        quarantined = _quarantined(lake, request_id)
        assert accepted == expected_written
        assert set(quarantined) == set(range(n)) - expected_written
        assert all(line["stage"] == "stream" for line in quarantined.values())
        for (indexes, _), call in zip(scripts, sent_calls, strict=True):  # only failed entries are resent
            assert [json.loads(r["Data"])["event"]["event_id"] for r in call] == [
                events[i]["event_id"] for i in indexes
            ]
        if not quarantined:
            assert response["statusCode"] == 200
        elif accepted:
            assert response["statusCode"] == 207
        else:
            assert response["statusCode"] in (429, 503)

    check()


def _response(codes: list[str | None]) -> dict:
    records = [
        {"ErrorCode": c, "ErrorMessage": "injected"} if c else {"SequenceNumber": "1", "ShardId": "shardId-0"}
        for c in codes
    ]
    failed = sum(1 for c in codes if c)
    return {"Records": records, **({"FailedRecordCount": failed} if failed else {})}
