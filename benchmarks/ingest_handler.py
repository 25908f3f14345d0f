"""Ingest Lambda throughput (events/s per core, no network) and cold start, against a baseline.

* Workload: ~1 KB events of every contract type, in API Gateway HTTP API (v2) requests of 100 events.
* Handler: the real ``lambda_handler`` (Powertools logging and metrics included; their output goes
  to /dev/null) with the Kinesis client replaced by an in-process sink that accepts every record.
  That substitution exists only here: it removes the network, which is what "per core" excludes.
* Baseline, same run, same events: stdlib ``json`` decoding plus ``jsonschema`` validation
  (Draft 2020-12 validators built once per event type), i.e. validation only, no enrichment or output.
* Cold start: import time of ``edp.ingest.handler`` in fresh interpreters, with cached bytecode and
  with none (the Lambda zip ships sources, so the first import there also compiles), plus the first
  request of a fresh process (validator compilation and User-Agent parser set-up happen there).

    python -m benchmarks.ingest_handler [--requests 300] [--batch 100]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PATHS = [str(ROOT / "include"), str(ROOT / "include" / "lambda" / "ingest"), str(ROOT)]
for _path in reversed(PATHS):
    if _path not in sys.path:
        sys.path.insert(0, _path)

RECEIVED = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"


class InProcessKinesis:
    """Accepts every PutRecords entry; counts records and bytes (benchmark only: no network)."""

    def __init__(self) -> None:
        self.records = 0
        self.bytes = 0

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.records += len(Records)
        self.bytes += sum(len(r["Data"]) for r in Records)
        return {"Records": [{"SequenceNumber": "1", "ShardId": "shardId-000000000000"} for _ in Records]}


class _RawBody:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def botocore_kinesis_without_network() -> Any:
    """The handler's own botocore Kinesis client (as configured in production) answered in-process.

    The ``before-send`` hook returns the HTTP response instead of sending the request, so every
    CPU cost of the SDK (serialisation, base64, SigV4 signing, response parsing) is measured and
    only the network is left out.
    """
    from botocore.awsrequest import AWSResponse

    from edp.ingest.service import IngestService
    from edp.ingest.settings import load_settings

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDBENCHMARK")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark-secret")
    client = IngestService(load_settings()).kinesis_client

    def respond(request: Any, **_: Any) -> AWSResponse:
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        count = body.count(b'"PartitionKey"')
        records = [
            {"SequenceNumber": "49600000000000000000000001", "ShardId": "shardId-000000000000"}
        ] * count
        payload = json.dumps({"FailedRecordCount": 0, "Records": records}).encode()
        return AWSResponse(
            request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, _RawBody(payload)
        )

    client.meta.events.register("before-send.kinesis.PutRecords", respond)
    return client


class FakeContext:
    function_name = "edp-ingest"
    memory_limit_in_mb = 1769  # one full vCPU
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:edp-ingest"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """Point file descriptor 1 at /dev/null: Powertools' handlers hold the original sys.stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def make_event(rng: random.Random, index: int) -> dict[str, Any]:
    """A realistic event of about 1 KB (purchases with items are larger, clicks smaller)."""
    from edp.contract import EVENT_TYPES

    event_type = EVENT_TYPES[index % len(EVENT_TYPES)]
    occurred = RECEIVED - timedelta(seconds=rng.randint(0, 3 * 86400))
    items = [
        {
            "product_id": f"SKU-{rng.randint(10000, 99999)}-{rng.choice('SMLX')}",
            "quantity": rng.randint(1, 3),
            "price": 19.99,
        }
        for _ in range(rng.randint(6, 9))
    ]
    long_url = (
        f"https://shop.example.com/en-us/kitchen/coffee/espresso-machines/espresso-machine-pro-{index}"
        "?utm_source=newsletter&utm_medium=email&utm_campaign=winter-sale-2025&utm_content=hero-banner"
    )
    properties = {
        "page_view": {
            "url": long_url,
            "path": f"/en-us/kitchen/coffee/espresso-machines/espresso-machine-pro-{index}",
            "referrer": "https://www.google.com/search?q=best+espresso+machine+with+milk+frother+2025&hl=en",
            "title": "Espresso Machine Pro 2000 with Milk Frother, 15 bar, Stainless Steel | Example Shop",
        },
        "screen_view": {
            "screen_name": "ProductDetail/EspressoMachinePro2000/Reviews/VerifiedBuyers",
            "screen_class": "ProductDetailReviewsViewController",
            "previous_screen": "SearchResults/espresso-machine/sort=rating",
        },
        "click": {
            "element_id": "product-detail.reviews.load-more-button.primary-action",
            "element_text": "Show 25 more reviews from verified buyers",
            "target_url": long_url + "&reviews_page=2#reviews",
        },
        "add_to_cart": {
            "product_id": "SKU-ESP-200-STAINLESS-EU-PLUG-2025-EDITION",
            "quantity": 1,
            "price": 349.0,
            "currency": "EUR",
            "cart_id": f"cart-{rng.getrandbits(96):024x}",
        },
        "purchase": {
            "order_id": f"ORD-2025-{index:08d}",
            "currency": "USD",
            "revenue": 119.94,
            "tax": 9.6,
            "shipping": 4.99,
            "coupon": "WINTER10",
            "items": items,
        },
        "signup": {
            "method": "email",
            "email": f"jane.doe+{index}@mail.example.com",
            "referral_code": f"FRIEND-{rng.getrandbits(40):010x}",
        },
        "app_error": {
            "error_code": "NET_TIMEOUT",
            "message": "GET https://api.example.com/v2/carts/current?include=items,promotions timed out after "
            "10000 ms (attempt 3 of 3, connection reused, TLS session resumed, proxy none)",
            "fatal": False,
            "component": "CartRepository.refreshCurrentCart",
        },
    }[event_type]
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_type": event_type,
        "schema_version": "1.0",
        "occurred_at": occurred.isoformat(timespec="milliseconds"),
        "user_id": f"usr_{rng.getrandbits(96):024x}",
        "anonymous_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "session_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "device": {
            "platform": "ios",
            "os": "iOS",
            "os_version": "17.6.1",
            "model": "iPhone15,2",
            "manufacturer": "Apple",
            "locale": "en-US",
            "timezone": "America/New_York",
            "screen": {"width": 1179, "height": 2556, "density": 3},
        },
        "app": {"name": "shop-ios", "version": "4.12.0", "build": "41200"},
        "properties": properties,
    }


def proxy_event(body: bytes, request_id: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /v1/events",
        "rawPath": "/v1/events",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-api-key": "local-demo-key", "user-agent": UA},
        "requestContext": {
            "http": {"method": "POST", "path": "/v1/events", "sourceIp": "198.51.100.7", "userAgent": UA},
            "requestId": request_id,
            "stage": "$default",
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def build_workload(requests: int, batch: int) -> tuple[list[bytes], int]:
    rng = random.Random(20251120)
    bodies, total_event_bytes = [], 0
    for r in range(requests):
        events = [make_event(rng, r * batch + i) for i in range(batch)]
        total_event_bytes += sum(len(json.dumps(e, separators=(",", ":"))) for e in events)
        bodies.append(json.dumps({"events": events}).encode())
    return bodies, total_event_bytes


def _rate(events: int, seconds: float) -> float:
    return events / seconds if seconds else float("inf")


def bench_baseline(bodies: list[bytes]) -> tuple[float, int]:
    """stdlib json + jsonschema; returns (CPU seconds, events)."""
    import jsonschema

    from edp.contract import EVENT_TYPES, load_schema

    validators = {t: jsonschema.Draft202012Validator(load_schema(t)) for t in EVENT_TYPES}
    count, invalid = 0, 0
    start = time.process_time()
    for body in bodies:
        for event in json.loads(body)["events"]:
            count += 1
            if not validators[event["event_type"]].is_valid(event):
                invalid += 1
    elapsed = time.process_time() - start
    assert invalid == 0, f"baseline rejected {invalid} events"
    return elapsed, count


def bench_validation_core(bodies: list[bytes]) -> tuple[float, int]:
    """orjson + compiled fastjsonschema + time window: the validation part of the handler alone."""
    import orjson

    from edp.contract import validate_event, warm_up

    warm_up()
    count = 0
    start = time.process_time()
    for body in bodies:
        for event in orjson.loads(body)["events"]:
            count += 1
            assert validate_event(event, received_at=RECEIVED) is None
    return time.process_time() - start, count


def bench_handler(bodies: list[bytes], sink: Any) -> tuple[float, int]:
    """The full handler writing to ``sink``; (CPU seconds, events accepted)."""
    from edp.ingest import handler
    from edp.ingest.service import IngestService
    from edp.ingest.settings import load_settings

    with tempfile.TemporaryDirectory() as lake:
        os.environ["PLATFORM__LAKE__ROOT"] = lake
        handler.reset_service(IngestService(load_settings(), kinesis_client=sink, clock=lambda: RECEIVED))
        events = [proxy_event(body, f"bench-{i}") for i, body in enumerate(bodies)]
        context = FakeContext()
        with stdout_to_devnull():  # Powertools logs and EMF metrics still get written, to /dev/null
            handler.lambda_handler(copy.deepcopy(events[0]), context)  # first request: lazy set-up
            accepted = 0
            start = time.process_time()
            for event in events:
                response = handler.lambda_handler(event, context)
                accepted += response["statusCode"] == 200
            elapsed = time.process_time() - start
        handler.reset_service(None)
    assert accepted == len(events), f"only {accepted}/{len(events)} requests returned 200"
    return elapsed, accepted * len(json.loads(bodies[0])["events"])


_IMPORT_SNIPPET = (
    "import time, sys; sys.path[:0] = {paths!r}; t = time.perf_counter(); import edp.ingest.handler; "
    "print(time.perf_counter() - t)"
)
_FIRST_REQUEST_SNIPPET = """
import sys, time, io, contextlib
sys.path[:0] = {paths!r}
from benchmarks.ingest_handler import FakeContext, InProcessKinesis, proxy_event, build_workload, RECEIVED
body = build_workload(1, 100)[0][0]
event = proxy_event(body, "first")
from edp.ingest import handler
from edp.ingest.service import IngestService
from edp.ingest.settings import load_settings
handler.reset_service(IngestService(load_settings(), kinesis_client=InProcessKinesis(), clock=lambda: RECEIVED))
with contextlib.redirect_stdout(io.StringIO()):
    t = time.perf_counter(); handler.lambda_handler(event, FakeContext()); first = time.perf_counter() - t
    t = time.perf_counter(); handler.lambda_handler(event, FakeContext()); second = time.perf_counter() - t
print(first, second)
"""


# what the Lambda zip holds (see include/lambda/ingest/lambda.toml and requirements.txt)
ZIP_PACKAGES = (
    "edp",
    "aws_lambda_powertools",
    "jmespath",
    "typing_extensions",
    "orjson",
    "fastjsonschema",
    "ua_parser",
    "ua_parser_builtins",
    "ua_parser_rs",
)


def lambda_like_tree(dest: Path) -> Path:
    """Copy the zip's packages, sources only, into ``dest``: /var/task ships no bytecode."""
    for name in ZIP_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or (spec.origin is None and not spec.submodule_search_locations):
            raise RuntimeError(f"{name} is not importable")
        if spec.submodule_search_locations:
            source = Path(next(iter(spec.submodule_search_locations)))
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(spec.origin, dest)
    return dest


def _fresh_python(code: str, *, tree: Path | None = None) -> str:
    """Run ``code`` in a new interpreter; with ``tree``, only that tree (no site-packages, no bytecode)."""
    if tree is None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(PATHS)}
        argv = [sys.executable, "-c", code]
    else:
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
        argv = [sys.executable, "-S", "-c", code]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1]


def cold_start(runs: int) -> dict[str, float]:
    code = _IMPORT_SNIPPET.format(paths=[])
    _fresh_python(code)  # make sure cached bytecode exists for the "warm disk" case
    cached = [float(_fresh_python(code)) for _ in range(runs)]
    with tempfile.TemporaryDirectory() as tmp:
        tree = lambda_like_tree(Path(tmp))
        uncached = [float(_fresh_python(code, tree=tree)) for _ in range(runs)]
    firsts, seconds = [], []
    os.environ["PLATFORM__LAKE__ROOT"] = tempfile.mkdtemp()
    for _ in range(runs):
        first, second = map(float, _fresh_python(_FIRST_REQUEST_SNIPPET.format(paths=PATHS)).split())
        firsts.append(first)
        seconds.append(second)
    return {
        "import_cached": statistics.median(cached),
        "import_uncached": statistics.median(uncached),
        "first_request": statistics.median(firsts),
        "second_request": statistics.median(seconds),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--cold-runs", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("PLATFORM_ENV", "local")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")

    bodies, event_bytes = build_workload(args.requests, args.batch)
    events = args.requests * args.batch
    baseline_s, baseline_n = bench_baseline(bodies)
    core_s, core_n = bench_validation_core(bodies)
    sink = InProcessKinesis()
    handler_s, handler_n = bench_handler(bodies, sink)
    sdk_s, sdk_n = bench_handler(bodies, botocore_kinesis_without_network())
    cold = cold_start(args.cold_runs)

    baseline_rate = _rate(baseline_n, baseline_s)
    print(
        f"\nWorkload: {events} events in {args.requests} requests of {args.batch}; mean event "
        f"{event_bytes / events:.0f} B; {sink.bytes / max(sink.records, 1):.0f} B per Kinesis record; "
        f"Python {sys.version.split()[0]}; CPU time of this process. Machine: {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}; orjson decodes this workload at {calibration(bodies):.0f} MB/s.\n"
    )
    print("| measurement | events/s per core | µs per event | vs baseline |")
    print("|---|---:|---:|---:|")
    for name, seconds, count in (
        ("baseline: json + jsonschema (validation only)", baseline_s, baseline_n),
        ("orjson + compiled fastjsonschema + time window (validation only)", core_s, core_n),
        (
            "full handler: parse, validate, enrich, envelope, PutRecords (in-process sink)",
            handler_s,
            handler_n,
        ),
        ("full handler with its real botocore client, HTTP answered in-process", sdk_s, sdk_n),
    ):
        rate = _rate(count, seconds)
        print(f"| {name} | {rate:,.0f} | {1e6 * seconds / count:.1f} | {rate / baseline_rate:.1f}x |")
    rows = (
        ("import edp.ingest.handler, cached bytecode", cold["import_cached"]),
        (
            "import edp.ingest.handler from sources only, no bytecode (as from the Lambda zip)",
            cold["import_uncached"],
        ),
        (
            f"first request of {args.batch} events (compiles validators, loads UA parser)",
            cold["first_request"],
        ),
        (f"second request of {args.batch} events", cold["second_request"]),
    )
    print("\n| cold start (median of fresh processes) | ms |")
    print("|---|---:|")
    for name, seconds in rows:
        print(f"| {name} | {1000 * seconds:.1f} |")


def calibration(bodies: list[bytes]) -> float:
    """orjson decoding speed on this machine, MB/s: a yardstick for comparing runs across machines."""
    import orjson

    start = time.process_time()
    for body in bodies:
        orjson.loads(body)
    return sum(map(len, bodies)) / (time.process_time() - start) / 1e6


if __name__ == "__main__":
    main()
