"""Over real HTTP: local gateway -> the ingest handler -> a real moto Kinesis stream, and back out."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from edp.batch.seeds.catalog import load_catalog
from edp_local.gateway.lambda_runtime import FunctionConfig, ProcessInvoker
from edp_local.gateway.spec import default_spec_path
from edp_local.load_generator.plan import EventPlan, PlanOptions, break_event

pytestmark = pytest.mark.integration

DEMO_KEY = "local-demo-key"
JSON = {"content-type": "application/json"}
ROOT = Path(__file__).resolve().parents[2]


def valid_events(count: int, seed: int) -> list[dict[str, Any]]:
    """Fresh, contract-valid events from the load generator's session simulation."""
    plan = EventPlan(
        PlanOptions(count=count), load_catalog(), rng=random.Random(seed), clock=lambda: datetime.now(tz=UTC)
    )
    return [item.payload for item in plan]


def post(gateway: str, body: Any, *, key: str | None = DEMO_KEY, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    merged = {**JSON, **({"x-api-key": key} if key else {}), **headers}
    return httpx.post(f"{gateway}/v1/events", content=content, headers=merged, timeout=30)


def landed(stream_records, stream: str, event_ids: set[str]) -> list[dict]:
    return [r for r in stream_records(stream) if r["data"]["event"]["event_id"] in event_ids]


def expected_partition_key(event: dict[str, Any]) -> str:
    return event["user_id"] or event["anonymous_id"] or event["session_id"]


def test_a_valid_batch_lands_on_the_stream_with_its_ids_and_partition_keys(
    gateway: str, stream_records, gateway_api_keys: dict[str, str]
) -> None:
    events = valid_events(40, seed=101)

    response = post(gateway, {"events": events})
    records = landed(stream_records, "it-events", {e["event_id"] for e in events})

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 40
    assert sorted(r["data"]["event"]["event_id"] for r in records) == sorted(e["event_id"] for e in events)
    by_id = {e["event_id"]: e for e in events}
    assert all(
        r["partition_key"] == expected_partition_key(by_id[r["data"]["event"]["event_id"]]) for r in records
    )
    assert {r["data"]["meta"]["source_app"] for r in records} == {gateway_api_keys[DEMO_KEY]}
    assert {r["data"]["meta"]["request_id"] for r in records} == {response.json()["request_id"]}
    assert {r["data"]["meta"]["request_id"] for r in records} == {response.headers["x-amzn-requestid"]}


def test_a_single_bare_event_is_accepted(gateway: str, stream_records) -> None:
    (event,) = valid_events(1, seed=102)

    response = post(gateway, event)

    assert response.status_code == 200
    assert len(landed(stream_records, "it-events", {event["event_id"]})) == 1


def test_a_mixed_batch_is_207_and_only_its_valid_events_land(gateway: str, stream_records) -> None:
    events = valid_events(12, seed=103)
    rng = random.Random(5)
    now = datetime.now(tz=UTC)
    kinds = ["missing_field", "bad_uuid", "unknown_type", "bad_timestamp"]
    batch = [break_event(e, kinds[i // 3], rng, now) if i % 3 == 0 else e for i, e in enumerate(events)]
    valid_ids = {e["event_id"] for i, e in enumerate(events) if i % 3 != 0}

    response = post(gateway, {"events": batch})
    results = response.json()["results"]
    records = landed(stream_records, "it-events", {e["event_id"] for e in events})

    assert response.status_code == 207
    assert [r["status"] for r in results] == ["rejected" if i % 3 == 0 else "accepted" for i in range(12)]
    assert all(r["reason"] for r in results if r["status"] == "rejected")
    assert {r["data"]["event"]["event_id"] for r in records} == valid_ids


def test_a_batch_with_no_valid_event_is_400(gateway: str) -> None:
    (event,) = valid_events(1, seed=104)
    broken = break_event(event, "unknown_type", random.Random(1), datetime.now(tz=UTC))

    response = post(gateway, {"events": [broken]})

    assert response.status_code == 400 and response.json()["error"]["code"] == "no_valid_events"


def _deep(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def test_the_issue_15_deep_bodies_get_400_or_207_with_the_valid_event_landed(
    gateway: str, stream_records
) -> None:
    (event,) = valid_events(1, seed=115)

    alone = post(gateway, _deep(1000))
    mixed = post(gateway, b'{"events": [' + json.dumps(event).encode() + b", " + _deep(1000) + b"]}")
    too_deep = post(gateway, _deep(1025))

    assert alone.status_code == 400 and alone.json()["error"]["code"] == "no_valid_events"
    assert mixed.status_code == 207
    assert [r["status"] for r in mixed.json()["results"]] == ["accepted", "rejected"]
    assert mixed.json()["results"][1]["quarantined"] is True
    assert landed(stream_records, "it-events", {event["event_id"]})
    assert too_deep.status_code == 400 and too_deep.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("PUT", "/v1/events", "POST"), ("TRACE", "/v1/events", "POST"), ("DELETE", "/v1/health", "GET")],
)
def test_an_undeclared_method_is_405_with_allow_over_http(
    gateway: str, method: str, path: str, allow: str
) -> None:
    response = httpx.request(method, f"{gateway}{path}", headers={"x-api-key": DEMO_KEY}, timeout=30)

    assert response.status_code == 405 and response.headers["allow"] == allow
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("key", "headers", "body", "status", "code"),
    [
        (None, {}, b"{}", 401, "missing_api_key"),
        ("not-a-key", {}, b"{}", 403, "invalid_api_key"),
        (DEMO_KEY, {"content-type": "text/plain"}, b"{}", 415, "unsupported_media_type"),
        (DEMO_KEY, {}, b'{"events": [' + b'"x",' * 300_000 + b'"x"]}', 413, "body_too_large"),
        (DEMO_KEY, {}, b"{not json", 400, "invalid_json"),
    ],
)
def test_requests_refused_before_any_event_is_considered(
    gateway: str, key: str | None, headers: dict[str, str], body: bytes, status: int, code: str
) -> None:
    response = post(gateway, body, key=key, **headers)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["accepted"] == 0


def test_the_usage_plan_throttle_answers_429_with_retry_after(
    gateway_factory, tmp_path: Path, stream_records
) -> None:
    document = yaml.safe_load(default_spec_path().read_text())
    document["x-edp-usage-plan"]["throttle"] = {"rateLimit": 0.2, "burstLimit": 2}
    spec = tmp_path / "openapi-throttled.yaml"
    spec.write_text(yaml.safe_dump(document))
    throttled_gateway = gateway_factory(stream="it-throttled", spec=spec)
    events = valid_events(3, seed=105)

    responses = [post(throttled_gateway, event) for event in events]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert int(responses[2].headers["retry-after"]) >= 1
    assert responses[2].json()["error"]["code"] == "throttled"
    assert post(throttled_gateway, events[2], key="it-loadgen-key").status_code == 200  # own bucket per key
    assert len(landed(stream_records, "it-throttled", {e["event_id"] for e in events})) == 3


def test_the_load_generator_run_reconciles_with_the_stream(
    gateway: str, stream_records, tmp_path: Path
) -> None:
    ids_file = tmp_path / "expected-ids.txt"
    command = [
        sys.executable, "-m", "edp_local.load_generator",
        "--endpoint", gateway, "--api-key", "it-loadgen-key",
        "--count", "400", "--rate", "400", "--batch-size", "25", "--seed", "42",
        "--duplicate-fraction", "0.05", "--late-fraction", "0.2",
        "--out-of-order-fraction", "0.05", "--invalid-fraction", "0.05",
        "--expected-ids-file", str(ids_file),
    ]  # fmt: skip

    env = {**os.environ, "PYTHONPATH": str(ROOT / "include")}

    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    expected = set(ids_file.read_text().split())
    records = [r for r in stream_records("it-events") if r["data"]["meta"]["source_app"] == "it-loadgen"]
    on_stream = [r["data"]["event"]["event_id"] for r in records]

    assert summary["generated"] == 400 and summary["sent"] == 400 + summary["duplicates"]
    assert summary["duplicates"] > 0 and summary["late"] > 0 and sum(summary["invalid"].values()) > 0
    assert summary["failed_requests"] == 0 and summary["valid_not_accepted"] == 0
    assert len(expected) == summary["expected_valid_unique"] == 400 - sum(summary["invalid"].values())
    assert set(on_stream) == expected
    assert len(on_stream) == summary["accepted"]  # duplicates across requests land again; dedup is downstream
    assert (
        summary["accepted"] + summary["rejected"] + summary["duplicates_reported_by_api"] == summary["sent"]
    )


CRASHING_HANDLER = """
import os

def lambda_handler(event, context):
    if event.get("crash"):
        os._exit(3)
    return {"statusCode": 200, "body": str(os.getpid())}
"""


def test_a_dead_handler_container_is_replaced_like_a_lambda_environment(tmp_path: Path) -> None:
    function_dir = tmp_path / "crashy"
    (function_dir / "crashy_fn").mkdir(parents=True)
    (function_dir / "crashy_fn" / "__init__.py").write_text("")
    (function_dir / "crashy_fn" / "handler.py").write_text(CRASHING_HANDLER)
    (function_dir / "lambda.toml").write_text('handler = "crashy_fn.handler.lambda_handler"\n')
    invoker = ProcessInvoker(
        FunctionConfig.read(function_dir), containers=1, region="us-east-1", account_id="1"
    )

    async def scenario() -> tuple[str, type[BaseException] | None, str]:
        await invoker.start()
        before = (await invoker.invoke({}))["body"]
        try:
            await invoker.invoke({"crash": True})
            crash = None
        except BrokenProcessPool as exc:
            crash = type(exc)
        after = (await invoker.invoke({}))["body"]
        return before, crash, after

    try:
        before, crash, after = asyncio.run(scenario())
    finally:
        invoker.close()

    assert crash is BrokenProcessPool
    assert before != after  # a fresh container (process) answered
