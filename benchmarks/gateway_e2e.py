"""Local ingest path end to end: HTTP -> local gateway -> ingest handler -> moto Kinesis.

* Baseline, same run: raw ``PutRecords`` into the same moto server (records of the size the handler
  writes, 100 per call, two client threads), i.e. the most the stream stand-in can take.
* Load: open loop at ``--rate`` requests/s (default 500) of ``--batch`` events (default 100) for
  ``--duration`` seconds (default 20), with realistic events from the load generator's simulation.
  Latency is reported from the actual send and from the scheduled send; the second includes the time
  a request waited for a free connection, so a saturated server cannot hide behind a slow client.
* While loaded, ``/v1/health`` is probed every 100 ms: it shows whether the gateway keeps serving.
* CPU seconds per process over the load window name the bottleneck: the component closest to the
  cores it can use (moto and the gateway's event loop: one each; handler containers: one each).

Each gateway configuration in ``--containers`` (default ``2,1,0``: two and one handler worker
processes, and the in-process mode) gets its own gateway, stream and load window. Requests that could
not start within the window (the driver keeps at most ``--max-in-flight`` open) are not sent, so a
run lasts about the window plus the drain of what is in flight.

    python -m benchmarks.gateway_e2e [--rate 500] [--batch 100] [--duration 20] [--containers 2,1,0]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import boto3
import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "include") not in sys.path:
    sys.path.insert(0, str(ROOT / "include"))

from edp.batch.seeds.catalog import load_catalog  # noqa: E402 - after the path set-up above
from edp_local.load_generator.plan import EventPlan, PlanOptions  # noqa: E402
from edp_local.load_generator.sender import percentile  # noqa: E402

API_KEY = "bench-key"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout_s}s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


class Servers:
    """The moto server and the gateways this run starts; all stopped on exit."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[subprocess.Popen] = []
        self.moto_port = free_port()
        self.moto_url = f"http://127.0.0.1:{self.moto_port}"

    def __enter__(self) -> Servers:
        # the same endpoint `make run` starts: moto plus our sequence-number and concurrency fixes
        moto = self._spawn(
            [
                sys.executable,
                "-m",
                "edp_local.aws_endpoint.server",
                "-H",
                "127.0.0.1",
                "-p",
                str(self.moto_port),
            ]
        )
        wait_ready(f"{self.moto_url}/moto-api/", moto)
        self.moto = moto
        return self

    def __exit__(self, *_exc: object) -> None:
        for process in reversed(self.processes):
            stop(process)

    def _spawn(self, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = (self.workdir / f"process-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append(process)
        return process

    def kinesis(self):
        return boto3.client("kinesis", endpoint_url=self.moto_url, **CREDENTIALS)

    def create_stream(self, name: str) -> None:
        client = self.kinesis()
        client.create_stream(StreamName=name, ShardCount=2)
        client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})

    def start_gateway(self, stream: str, containers: int) -> tuple[str, subprocess.Popen]:
        self.create_stream(stream)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM", "INGEST_"))}
        env.update(
            PYTHONPATH=str(ROOT / "include"),
            PLATFORM_ENV="local",
            PLATFORM__PORTS__AWS=str(self.moto_port),
            PLATFORM__PORTS__GATEWAY=str(port),
            PLATFORM__STREAM__NAME=stream,
            PLATFORM__LAKE__ROOT=str(self.workdir / "lake"),
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            INGEST_API_KEYS=json.dumps({API_KEY: "bench"}),
        )
        command = [
            sys.executable,
            "-m",
            "edp_local.gateway",
            "--containers",
            str(containers),
            "--log-level",
            "warning",
        ]
        process = self._spawn(command, env)
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/v1/health", process)
        return url, process


# ---- workload ------------------------------------------------------------------------------------


def make_bodies(batches: int, batch: int, seed: int = 7) -> list[bytes]:
    """Distinct request bodies of valid events; the load cycles through them."""
    plan = EventPlan(
        PlanOptions(count=batches * batch),
        load_catalog(),
        rng=random.Random(seed),
        clock=lambda: datetime.now(tz=UTC),
    )
    events = [item.payload for item in plan]
    return [
        json.dumps({"events": events[i : i + batch]}, separators=(",", ":")).encode()
        for i in range(0, len(events), batch)
    ]


def record_bytes(bodies: list[bytes]) -> list[bytes]:
    """Kinesis records of the size the handler writes: the event plus roughly 400 bytes of metadata."""
    meta = {"received_at": "2025-01-01T00:00:00.000Z", "request_id": "x" * 36, "source_app": "bench",
            "client_ip_hash": "0" * 64, "user_agent": None, "api_version": "v1", "contract_version": "1.0"}  # fmt: skip
    events = json.loads(bodies[0])["events"]
    return [json.dumps({"event": e, "meta": meta}).encode() for e in events]


def moto_baseline(
    servers: Servers, records: list[bytes], seconds: float, threads: int = 2
) -> dict[str, float]:
    """Raw PutRecords (100 records a call) from ``threads`` client threads for ``seconds``.

    Also the rate in the first and last quarter of the window: moto finds a shard's last sequence
    number by listing all its records, so each put costs more as the stream fills.
    """
    servers.create_stream("baseline")
    calls: list[tuple[float, int]] = []  # (completion time, records written)
    started = time.perf_counter()
    deadline = started + seconds

    def writer(index: int) -> None:
        client = servers.kinesis()
        entries = [{"Data": r, "PartitionKey": f"pk-{index}-{n}"} for n, r in enumerate(records[:100])]
        while time.perf_counter() < deadline:
            response = client.put_records(StreamName="baseline", Records=entries)
            calls.append((time.perf_counter(), len(entries) - response.get("FailedRecordCount", 0)))

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    quarter = elapsed / 4
    first = sum(n for t, n in calls if t <= started + quarter)
    last = sum(n for t, n in calls if t > started + 3 * quarter)
    return {
        "records_per_s": sum(n for _, n in calls) / elapsed,
        "first_quarter_per_s": first / quarter,
        "last_quarter_per_s": last / quarter,
        "records": sum(n for _, n in calls),
        "record_bytes": sum(map(len, records)) / len(records),
    }


# ---- load ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class LoadResult:
    offered_rps: float
    duration_s: float
    statuses: Counter
    accepted_events: int
    service_ms: list[float]
    scheduled_ms: list[float]
    health_ms: list[float]
    health_failures: int
    elapsed_s: float
    cpu_s: dict[str, float]


async def _probe_health(
    url: str, stop_event: asyncio.Event, samples: list[float], failures: list[int]
) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        while not stop_event.is_set():
            began = time.perf_counter()
            try:
                response = await client.get(f"{url}/v1/health", timeout=10)
                if response.status_code == 200:
                    samples.append((time.perf_counter() - began) * 1000)
                else:
                    failures.append(response.status_code)
            except httpx.HTTPError:
                failures.append(0)
            await asyncio.sleep(0.1)


async def _drive(
    url: str, bodies: list[bytes], rate: float, duration: float, max_in_flight: int
) -> LoadResult:
    total = int(rate * duration)
    interval = 1.0 / rate
    statuses: Counter = Counter()
    accepted = 0
    service_ms: list[float] = []
    scheduled_ms: list[float] = []
    gate = asyncio.Semaphore(max_in_flight)
    headers = {"content-type": "application/json", "x-api-key": API_KEY}
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    health_ms: list[float] = []
    health_failures: list[int] = []
    stop_probe = asyncio.Event()

    async with httpx.AsyncClient(limits=limits, trust_env=False, timeout=120) as client:

        async def one(index: int, scheduled: float) -> None:
            nonlocal accepted
            async with gate:
                sent = time.perf_counter()
                if sent > deadline:  # bounded run: what could not start in the window is not sent
                    statuses["not sent (window over)"] += 1
                    return
                try:
                    response = await client.post(
                        f"{url}/v1/events", content=bodies[index % len(bodies)], headers=headers
                    )
                except httpx.HTTPError:
                    statuses["transport_error"] += 1
                    return
                done = time.perf_counter()
            statuses[str(response.status_code)] += 1
            service_ms.append((done - sent) * 1000)
            scheduled_ms.append((done - scheduled) * 1000)
            if response.status_code in (200, 207):
                accepted += response.json()["accepted"]

        probe = asyncio.create_task(_probe_health(url, stop_probe, health_ms, health_failures))
        started = time.perf_counter()
        deadline = started + duration
        tasks = []
        for index in range(total):
            scheduled = started + index * interval
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        stop_probe.set()
        await probe
    return LoadResult(rate, duration, statuses, accepted, service_ms, scheduled_ms, health_ms,
                      len(health_failures), elapsed, {})  # fmt: skip


def cpu_seconds(process: psutil.Process, include_children: bool = True) -> float:
    procs = [process, *(process.children(recursive=True) if include_children else [])]
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def components(moto: subprocess.Popen, gateway: subprocess.Popen) -> dict[str, list[psutil.Process]]:
    gateway_proc = psutil.Process(gateway.pid)
    return {
        "moto": [psutil.Process(moto.pid)],
        "gateway loop": [gateway_proc],
        "handler containers": gateway_proc.children(recursive=True),
        "load driver": [psutil.Process(os.getpid())],
    }


def run_load(servers: Servers, containers: int, bodies: list[bytes], args: argparse.Namespace) -> LoadResult:
    url, gateway = servers.start_gateway(f"bench-{containers}", containers)
    # warm every container (first request builds the Kinesis client and compiles validators)
    for body in bodies[: max(containers, 1) * 2]:
        httpx.post(
            f"{url}/v1/events",
            content=body,
            headers={"content-type": "application/json", "x-api-key": API_KEY},
        )
    parts = components(servers.moto, gateway)
    before = {
        name: sum(cpu_seconds(p, include_children=False) for p in procs) for name, procs in parts.items()
    }
    result = asyncio.run(_drive(url, bodies, args.rate, args.duration, args.max_in_flight))
    after = {
        name: sum(cpu_seconds(p, include_children=False) for p in procs) for name, procs in parts.items()
    }
    result.cpu_s = {name: after[name] - before[name] for name in parts}
    stop(gateway)
    return result


# ---- report --------------------------------------------------------------------------------------


COMPONENTS = ("moto", "gateway loop", "handler containers", "load driver")


def cores_usable(name: str, containers: int) -> int:
    """How many cores a component can keep busy: Python processes are one core each (the GIL)."""
    if name == "handler containers":
        return min(containers, os.cpu_count() or 1)
    return 1


def ceilings(result: LoadResult, containers: int) -> dict[str, float]:
    """Events/s each component could sustain at the CPU it spent per accepted event in this run."""
    events = max(result.accepted_events, 1)
    out = {}
    for name in COMPONENTS:
        per_event = result.cpu_s[name] / events
        if per_event > 0 and cores_usable(name, containers) > 0:
            out[name] = cores_usable(name, containers) / per_event
    total = sum(result.cpu_s.values()) / events
    out["machine (all cores)"] = (os.cpu_count() or 1) / total
    return out


def bottleneck(result: LoadResult, containers: int) -> str:
    limits = {k: v for k, v in ceilings(result, containers).items() if k != "load driver"}
    name = min(limits, key=limits.get)
    return f"{name} (CPU ceiling {limits[name]:,.0f} events/s)"


def report(baseline: dict[str, float], results: dict[int, LoadResult], args: argparse.Namespace) -> str:
    lines = [
        f"Gateway end to end: {args.rate:g} requests/s offered, {args.batch} events each, {args.duration:g} s "
        f"window, {os.cpu_count()} cores.",
        "",
        "| configuration | accepted events/s | requests ok / offered | p50 ms | p99 ms | p99 ms from schedule "
        "| health p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| baseline: raw PutRecords into moto (100 records/call, 2 threads) | {baseline['records_per_s']:,.0f} "
        "| - | - | - | - | - |",
    ]
    for containers, r in results.items():
        ok = r.statuses.get("200", 0) + r.statuses.get("207", 0)
        lines.append(
            f"| gateway, {label(containers)} | {r.accepted_events / r.elapsed_s:,.0f} "
            f"| {ok:,} / {sum(r.statuses.values()):,} "
            f"| {percentile(r.service_ms, 50):,.0f} | {percentile(r.service_ms, 99):,.0f} "
            f"| {percentile(r.scheduled_ms, 99):,.0f} "
            f"| {percentile(r.health_ms, 50):,.0f} / {percentile(r.health_ms, 99):,.0f} |"
        )
    lines += [
        "",
        "CPU per 1,000 accepted events, and the rate each component's cores could sustain at that cost:",
        "",
        "| configuration | " + " | ".join(COMPONENTS) + " | bottleneck |",
        "|---|" + "---:|" * len(COMPONENTS) + "---|",
    ]
    for containers, r in results.items():
        limits = ceilings(r, containers)
        events = max(r.accepted_events, 1)
        cells = [
            f"{r.cpu_s[name] / events * 1e6:,.0f} ms (≤{limits[name]:,.0f}/s)" if name in limits else "-"
            for name in COMPONENTS
        ]
        lines.append(f"| {label(containers)} | " + " | ".join(cells) + f" | {bottleneck(r, containers)} |")
    lines.append("")
    for containers, r in results.items():
        others = {k: v for k, v in r.statuses.items() if k not in ("200", "207")}
        lines.append(
            f"* {label(containers)}: load window incl. drain {r.elapsed_s:.1f} s; other outcomes: "
            f"{dict(others) or 'none'}; health probe failures: {r.health_failures}."
        )
    lines.append(
        f"* baseline: {baseline['records']:,.0f} records of {baseline['record_bytes']:,.0f} bytes (event plus "
        f"handler metadata); {baseline['first_quarter_per_s']:,.0f} records/s in the first quarter of the "
        f"window, {baseline['last_quarter_per_s']:,.0f} in the last (moto slows as a shard fills)."
    )
    return "\n".join(lines)


def label(containers: int) -> str:
    return f"{containers} handler process(es)" if containers else "handler in the gateway process"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks.gateway_e2e", description=__doc__)
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second offered")
    parser.add_argument("--batch", type=int, default=100, help="events per request")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per configuration")
    parser.add_argument("--containers", default="2,1,0", help="gateway --containers values to measure")
    parser.add_argument("--max-in-flight", type=int, default=64, help="concurrent requests of the driver")
    parser.add_argument("--baseline-seconds", type=float, default=8.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bodies = make_bodies(batches=200, batch=args.batch)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp, Servers(Path(tmp)) as servers:
        baseline = moto_baseline(servers, record_bytes(bodies), args.baseline_seconds)
        results = {c: run_load(servers, c, bodies, args) for c in map(int, args.containers.split(","))}
    print(report(baseline, results, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
