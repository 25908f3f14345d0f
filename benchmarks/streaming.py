"""Real-time layer: the streaming job's backlog drain into silver, and gateway-to-silver freshness.

Run: ``PYTHONPATH=include .venv/bin/python -m benchmarks.streaming [--events 100000] [--rate 200]
[--duration 60] [--triggers 3,2]``. Prints one markdown section on stdout; progress goes to stderr.

Everything runs on free loopback ports under a temporary directory: the local AWS endpoint (moto with
our fixes, as ``make run`` starts it), the local gateway, and ``include/spark/stream_events.py`` under
``spark-submit`` exactly as the platform launches it, with Spark's event log switched on so every
micro-batch's progress (``durationMs`` per phase) can be read back after the run.

1. Drain: the stream is pre-filled with ``--events`` valid ~1 KB envelopes; the job runs with
   ``--available-now``. Rate = events / (trigger time of the first batch -> the silver commit that
   completes the N rows); silver's row count and uniqueness are checked with ``deltalake``.
   Baseline, same run and stream: raw boto3 GetRecords of the whole backlog (what the endpoint alone
   costs). ``addBatch`` (everything in ``foreachBatch``) is split by the SQL executions Spark records
   inside it: the bronze append, the silver MERGE, the other Spark jobs (the isEmpty checks, which
   materialise the parse and contract check, and the batch's dates) and the driver's time in between.
2. Freshness: the job runs continuously with a processing-time trigger (``--triggers``); events are
   posted through the real gateway at ``--rate`` events/s for ``--duration`` s, each request's 2xx
   arrival time recorded per accepted ``event_id``. Visibility = the time the silver commit that added
   the event became readable (mtime of its ``_delta_log`` JSON, read after the run).

Finally every batch but each job's first (which pays the fresh JVM's class loading and JIT) gives a
least-squares fit of batch time = fixed + per-event cost: the two numbers that bound freshness and
drain rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import httpx
import psutil
import pyarrow.parquet as pq
from deltalake import DeltaTable

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "include" / "spark", ROOT / "include"):  # runnable without PYTHONPATH too
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import stream_events  # noqa: E402 - after the path set-up above

from edp.batch.seeds.catalog import load_catalog  # noqa: E402
from edp.lake import BRONZE_EVENTS, QUARANTINE_EVENTS, SILVER_EVENTS  # noqa: E402
from edp.spark_runtime.submit import spark_submit_argv, spark_submit_env  # noqa: E402
from edp_local.load_generator.plan import EventPlan, PlanOptions  # noqa: E402
from edp_local.load_generator.sender import percentile  # noqa: E402
from tests.events import envelopes  # noqa: E402

SCRIPT = ROOT / "include" / "spark" / "stream_events.py"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
API_KEY = "bench-streaming-key"
SALT = "benchmark-streaming-pii-salt"
SHARDS = 2
PUT_BATCH = 500
TARGET_DRAIN = 20_000  # events/s into silver, from the issue
TARGET_P95_S = 10.0  # freshness p95 with a 2-5 s trigger, from the issue
JOB_START_TIMEOUT_S = 180.0
DRAIN_TIMEOUT_S = 600.0
VISIBLE_TIMEOUT_S = 90.0
COMMIT_FILE = re.compile(r"^(\d{20})\.json$")
PROGRESS_EVENT = "org.apache.spark.sql.streaming.StreamingQueryListener$QueryProgressEvent"
SQL_START = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart"
SQL_END = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionEnd"
PHASES = ("latestOffset", "addBatch", "walCommit", "commitOffsets", "queryPlanning", "getBatch")


def log(message: str) -> None:
    print(f"[streaming {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def iso_seconds(value: str) -> float:
    """Epoch seconds of Spark's progress timestamps (``2026-01-01T00:00:04.000Z``)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# ---- processes -----------------------------------------------------------------------------------


class Processes:
    """Every process this run starts, each leading its own process group; all stopped on exit."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[subprocess.Popen] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_exc: object) -> None:
        for process in reversed(self.started):
            self.stop(process)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        with (self.workdir / f"{name}.log").open("wb") as out:
            process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started.append(process)
        return process

    @staticmethod
    def _signal_group(process: subprocess.Popen, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)

    def stop(self, process: subprocess.Popen, grace_s: float = 30.0) -> None:
        """SIGTERM the group, SIGKILL it after ``grace_s``."""
        if process.poll() is None:
            self._signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait(timeout=10)
        # the group may outlive its leader (the job's Python workers): make sure nothing is left
        self._signal_group(process, signal.SIGKILL)
        if process in self.started:
            self.started.remove(process)

    def stop_job(self, process: subprocess.Popen, grace_s: float = 60.0) -> None:
        """Stop a streaming job the way its own signal handling expects: SIGTERM to the Python driver.

        The driver stops the query between batches and ends the session (closing the event log); a
        SIGTERM to the whole group would also hit the JVM and end it mid-batch.
        """
        if process.poll() is None:
            children: list[psutil.Process] = []
            with contextlib.suppress(psutil.Error):
                children = psutil.Process(process.pid).children(recursive=True)
            for child in children:
                # per child: a Python worker exiting meanwhile must not hide the driver
                with contextlib.suppress(psutil.Error):
                    if any(part.endswith("stream_events.py") for part in child.cmdline()):
                        child.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace_s)
        self.stop(process)


def wait_http(url: str, process: subprocess.Popen, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout_s}s")


@dataclasses.dataclass
class Platform:
    """The servers shared by every measurement: the local AWS endpoint and a scratch directory."""

    workdir: Path
    processes: Processes
    moto_url: str = ""

    def start_moto(self) -> None:
        port = free_port()
        # the same endpoint `make run` starts: moto plus our sequence-number and concurrency fixes
        process = self.processes.spawn(
            "moto",
            [sys.executable, "-m", "edp_local.aws_endpoint.server", "-H", "127.0.0.1", "-p", str(port)],
            env={**os.environ, "PYTHONPATH": str(ROOT / "include")},
        )
        self.moto_url = f"http://127.0.0.1:{port}"
        wait_http(f"{self.moto_url}/moto-api/", process, timeout_s=60)

    def kinesis(self) -> Any:
        return boto3.client("kinesis", endpoint_url=self.moto_url, **CREDENTIALS)

    def create_stream(self, name: str) -> str:
        client = self.kinesis()
        client.create_stream(StreamName=name, ShardCount=SHARDS)
        client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
        return name

    def start_gateway(self, stream: str) -> tuple[str, subprocess.Popen]:
        """``python -m edp_local.gateway`` configured like ``make run``, writing to ``stream``."""
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM", "AWS_", "INGEST_"))}
        env.update(
            PYTHONPATH=str(ROOT / "include"),
            PLATFORM_ENV="local",
            PLATFORM__PORTS__AWS=self.moto_url.rsplit(":", 1)[1],
            PLATFORM__PORTS__GATEWAY=str(port),
            PLATFORM__STREAM__NAME=stream,
            PLATFORM__LAKE__ROOT=str(self.workdir / "gateway-lake"),
            PLATFORM__LOCAL_STATE_DIR=str(self.workdir / "state"),
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
            INGEST_API_KEYS=json.dumps({API_KEY: "bench-streaming"}),
        )
        argv = [sys.executable, "-m", "edp_local.gateway", "--host", "127.0.0.1", "--port", str(port)]
        process = self.processes.spawn(f"gateway-{stream}", [*argv, "--log-level", "warning"], env)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/v1/health", process)
        return url, process

    def start_job(self, name: str, stream: str, extra: list[str]) -> Job:
        """``stream_events.py`` under spark-submit, as the platform runs it, with Spark's event log on."""
        run = self.workdir / name
        (run / "eventlog").mkdir(parents=True)
        args = [
            "--lake-root", str(run / "lake"),
            "--checkpoint-dir", str(run / "checkpoint"),
            "--stream-name", stream,
            "--region", REGION,
            "--endpoint-url", self.moto_url,
            "--metrics-path", str(run / "metrics.json"),
            "--source-metrics-path", str(run / "source-metrics.json"),
            *extra,
        ]  # fmt: skip
        conf = {
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": (run / "eventlog").as_uri(),
            "spark.eventLog.compress": "false",
        }
        argv = spark_submit_argv(SCRIPT, args, conf=conf, long_running=True)  # as the platform runs it
        env = spark_submit_env({k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        env.update(
            PLATFORM_ENV="local",
            PLATFORM__LOCAL_STATE_DIR=str(self.workdir / "state"),
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
            PII_HASH_SALT=SALT,
        )
        submitted = time.time()
        process = self.processes.spawn(f"job-{name}", argv, env)
        return Job(name, process, run, submitted, self.workdir / f"job-{name}.log")


@dataclasses.dataclass
class Job:
    name: str
    process: subprocess.Popen
    run: Path
    submitted_at: float
    log_path: Path

    @property
    def silver(self) -> Path:
        return Path(SILVER_EVENTS.path(str(self.run / "lake")))

    def health(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.run / "metrics.json").read_text())
        except (OSError, ValueError):
            return None

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"job {self.name} exited with {self.process.returncode}:\n{tail}")


# ---- Spark's event log and silver's Delta log, read after (or while) the job runs ---------------------


def event_log(job: Job) -> list[dict[str, Any]]:
    """The JSON events of the job's Spark event log (complete or ``.inprogress``)."""
    events = []
    # Spark 4 rolls event logs by default: eventlog_v2_<app>/events_<n>_<app>[.inprogress]
    files = [p for p in (job.run / "eventlog").rglob("*") if p.is_file() and not p.name.startswith(".")]
    index = re.compile(r"^events_(\d+)_")
    files.sort(key=lambda p: int(m.group(1)) if (m := index.match(p.name)) else 0)
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
    return events


def batch_progress(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every ``StreamingQueryProgress``, with ``numInputRows`` (not serialised in event logs) filled in."""
    progress = [e["progress"] for e in events if e.get("Event") == PROGRESS_EVENT]
    for batch in progress:
        batch.setdefault("numInputRows", sum(s.get("numInputRows", 0) for s in batch.get("sources", ())))
    return progress


def sql_executions(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Finished SQL executions: id, root id, plan root node, plan text, start and end (epoch seconds)."""
    starts = {e["executionId"]: e for e in events if e.get("Event") == SQL_START}
    ends = {e["executionId"]: e["time"] for e in events if e.get("Event") == SQL_END}
    out = []
    for execution_id, start in starts.items():
        root = start.get("rootExecutionId", execution_id)
        if execution_id not in ends:
            continue
        out.append(
            {
                "id": execution_id,
                "root": root if root != -1 else execution_id,
                "description": start.get("description", ""),
                "node": start.get("sparkPlanInfo", {}).get("nodeName", ""),
                "plan": start.get("physicalPlanDescription", "")[:4000],
                "start": start["time"] / 1000,
                "end": ends[execution_id] / 1000,
            }
        )
    return out


@dataclasses.dataclass
class Commit:
    version: int
    visible_at: float  # mtime of the commit file: the moment readers can see the version
    committed_at: float  # commitInfo.timestamp
    operation: str
    added_rows: int
    event_ids: list[str]


class SilverLog:
    """Silver's commits read straight from ``_delta_log``, incrementally; no engine, no table scan."""

    def __init__(self, table: Path) -> None:
        self.table = table
        self.commits: list[Commit] = []
        self._seen: set[int] = set()

    def update(self, read_ids: bool = True) -> list[Commit]:
        log_dir = self.table / "_delta_log"
        if not log_dir.is_dir():
            return self.commits
        for path in sorted(log_dir.iterdir()):
            match = COMMIT_FILE.match(path.name)
            if not match or int(match.group(1)) in self._seen:
                continue
            self._seen.add(int(match.group(1)))
            self.commits.append(self._read(int(match.group(1)), path, read_ids))
        self.commits.sort(key=lambda c: c.version)
        return self.commits

    def _read(self, version: int, path: Path, read_ids: bool) -> Commit:
        actions = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        info = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
        rows, ids = 0, []
        for action in actions:
            if "add" not in action:
                continue
            stats = json.loads(action["add"].get("stats") or "{}")
            rows += int(stats.get("numRecords", 0))
            if read_ids:
                data = pq.read_table(self.table / unquote(action["add"]["path"]), columns=["event_id"])
                ids.extend(data.column("event_id").to_pylist())
        return Commit(
            version,
            path.stat().st_mtime,
            info.get("timestamp", 0) / 1000,
            info.get("operation", ""),
            rows,
            ids,
        )

    def rows(self) -> int:
        return sum(c.added_rows for c in self.commits)

    def first_seen(self) -> dict[str, Commit]:
        seen: dict[str, Commit] = {}
        for commit in self.commits:
            for event_id in commit.event_ids:
                seen.setdefault(event_id, commit)
        return seen


def silver_check(table: Path) -> tuple[int, int]:
    """(rows, distinct event_ids) of silver, read with delta-rs."""
    ids = DeltaTable(str(table)).to_pyarrow_table(columns=["event_id"]).column("event_id").to_pylist()
    return len(ids), len(set(ids))


# ---- 1. backlog drain ----------------------------------------------------------------------------


def backlog_records(count: int, size: int) -> list[bytes]:
    """Valid envelopes as the ingest Lambda writes them: page views padded to ``size`` bytes, 1 in 5 a purchase."""
    now = datetime.now(tz=UTC)
    occurred = now - timedelta(seconds=5)
    base = len(
        envelopes.record(envelopes.page_view(occurred_at=occurred, url="https://shop.example/p?q="), now)
    )
    records = []
    for n in range(count):
        event_id = str(uuid.uuid4())
        if n % 5 == 4:
            event = envelopes.purchase(event_id=event_id, occurred_at=occurred)
            event["properties"]["items"] = [
                {"product_id": f"sku-{n % 50 + k}", "quantity": 1 + k, "price": 9.95 + k} for k in range(6)
            ]
        else:
            url = "https://shop.example/p?q=" + "x" * max(0, size - base)
            event = envelopes.page_view(
                event_id=event_id, occurred_at=occurred, user_id=f"user-{n % 997}", url=url
            )
        records.append(envelopes.record(event, now))
    return records


def prefill(client: Any, stream: str, records: list[bytes]) -> float:
    """PutRecords, 500 per call; returns the seconds it took."""
    started = time.perf_counter()
    for first in range(0, len(records), PUT_BATCH):
        entries = [
            {"PartitionKey": f"key-{first + n}", "Data": data}
            for n, data in enumerate(records[first : first + PUT_BATCH])
        ]
        if client.put_records(StreamName=stream, Records=entries)["FailedRecordCount"]:
            raise RuntimeError("PutRecords failed for some records")
    return time.perf_counter() - started


def raw_get_records(client: Any, stream: str) -> tuple[float, int]:
    """Baseline: every record of every shard through plain GetRecords (Limit 10000); (seconds, records)."""
    started, count = time.perf_counter(), 0
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            count += len(page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return time.perf_counter() - started, count


@dataclasses.dataclass
class DrainResult:
    max_records: int
    events: int
    first_batch_at: float
    silver_complete_at: float
    submitted_at: float
    exited_at: float
    silver_rows: int
    silver_distinct: int
    batches: list[dict[str, Any]]
    executions: list[dict[str, Any]]
    load_average: float

    @property
    def seconds(self) -> float:
        return self.silver_complete_at - self.first_batch_at

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def steady_rate(self) -> float | None:
        """Events/s after the first batch, whose run also pays the fresh JVM's class loading and JIT."""
        if len(self.batches) < 2:
            return None
        rest = sum(b["numInputRows"] for b in self.batches[1:])
        return rest / (self.silver_complete_at - iso_seconds(self.batches[1]["timestamp"]))

    def phase_totals(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for batch in self.batches:
            totals.update({k: v for k, v in batch.get("durationMs", {}).items() if isinstance(v, int)})
        return totals


def run_drain(platform: Platform, stream: str, events: int, max_records: int) -> DrainResult:
    job = platform.start_job(
        f"drain-{max_records}", stream, ["--available-now", "--max-records-per-shard", str(max_records)]
    )
    try:
        code = job.process.wait(timeout=DRAIN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        code = None
    exited = time.time()
    platform.processes.stop(job.process)
    if code != 0:
        raise RuntimeError(
            f"drain job ended with {code}:\n{job.log_path.read_text(errors='replace')[-3000:]}"
        )
    spark_events = event_log(job)
    batches = [p for p in batch_progress(spark_events) if p.get("numInputRows")]
    silver = SilverLog(job.silver)
    silver.update(read_ids=False)
    complete_at, total = None, 0
    for commit in silver.commits:
        total += commit.added_rows
        if total >= events and complete_at is None:
            complete_at = commit.visible_at
    rows, distinct = silver_check(job.silver)
    if complete_at is None or rows != events:
        raise RuntimeError(
            f"silver holds {rows} rows ({distinct} distinct) after the drain, expected {events}"
        )
    return DrainResult(
        max_records=max_records,
        events=events,
        first_batch_at=iso_seconds(batches[0]["timestamp"]),
        silver_complete_at=complete_at,
        submitted_at=job.submitted_at,
        exited_at=exited,
        silver_rows=rows,
        silver_distinct=distinct,
        batches=batches,
        executions=sql_executions(spark_events),
        load_average=os.getloadavg()[0],
    )


def addbatch_split(result: DrainResult, lake_root: str) -> Counter[str]:
    """Seconds of ``addBatch`` per kind of work, from the SQL executions nested in each batch's.

    Each micro-batch is one root execution (the ``foreachBatch`` call); the executions it starts are
    classified by their plan: the Delta appends by target table, the MERGE, and the rest (isEmpty
    checks, which materialise the parse and contract check, and the batch's distinct dates). Time
    in the root not covered by a child is the driver's own work between Spark jobs.
    """
    by_root: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for execution in result.executions:
        by_root[execution["root"]].append(execution)
    run_ids = {f"runId = {batch['runId']}" for batch in result.batches}
    split: Counter[str] = Counter()
    for root_id, group in by_root.items():
        root = next((e for e in group if e["id"] == root_id), None)
        if root is None or not any(run_id in root["description"] for run_id in run_ids):
            continue  # not a micro-batch of the query (e.g. the table set-up before it starts)
        children = sorted((e for e in group if e["id"] != root_id), key=lambda e: e["start"])
        covered, reach = 0.0, 0.0
        for child in children:
            if child["end"] <= reach:
                continue  # nested inside an earlier child (e.g. the MERGE's own scans)
            kind = "other Spark jobs (isEmpty, parse + contract check, dates)"
            if "MergeIntoCommand" in child["node"]:
                kind = "silver MERGE"
            elif "SaveIntoDataSourceCommand" in child["node"]:
                plan = child["plan"]
                kind = (
                    "bronze append"
                    if BRONZE_EVENTS.path(lake_root) in plan
                    else "quarantine append"
                    if QUARANTINE_EVENTS.path(lake_root) in plan
                    else "other append"
                )
            length = child["end"] - max(child["start"], reach)
            split[kind] += length
            covered += length
            reach = child["end"]
        split["driver between Spark jobs"] += root["end"] - root["start"] - covered
    return split


# ---- 2. freshness: gateway acceptance -> visible in silver --------------------------------------------


def request_bodies(events: int, batch: int, seed: int) -> list[tuple[bytes, list[str]]]:
    """Request bodies of ``batch`` valid, distinct events from the load generator's simulation."""
    plan = EventPlan(
        PlanOptions(count=events), load_catalog(), rng=random.Random(seed), clock=lambda: datetime.now(tz=UTC)
    )
    payloads = [item.payload for item in plan]
    return [
        (
            json.dumps({"events": payloads[i : i + batch]}, separators=(",", ":")).encode(),
            [p["event_id"] for p in payloads[i : i + batch]],
        )
        for i in range(0, len(payloads), batch)
    ]


@dataclasses.dataclass
class SendResult:
    accepted_at: dict[str, float]  # event_id -> wall-clock time its request's 2xx arrived
    statuses: Counter[str]
    latency_ms: list[float]
    started_at: float
    ended_at: float


async def _send(url: str, bodies: list[tuple[bytes, list[str]]], requests_per_s: float) -> SendResult:
    """Open loop: request ``i`` goes out at ``start + i / requests_per_s`` whatever earlier ones do."""
    result = SendResult({}, Counter(), [], time.time(), 0.0)
    headers = {"content-type": "application/json", "x-api-key": API_KEY}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(limits=limits, trust_env=False, timeout=60) as client:

        async def one(body: bytes) -> None:
            sent = time.perf_counter()
            try:
                response = await client.post(f"{url}/v1/events", content=body, headers=headers)
            except httpx.HTTPError as exc:
                result.statuses[type(exc).__name__] += 1
                return
            arrived = time.time()
            result.latency_ms.append((time.perf_counter() - sent) * 1000)
            result.statuses[str(response.status_code)] += 1
            if response.status_code in (200, 207):
                for item in response.json()["results"]:
                    if item["status"] == "accepted":
                        result.accepted_at[item["event_id"]] = arrived

        began = time.perf_counter()
        tasks = []
        for index, (body, _ids) in enumerate(bodies):
            delay = began + index / requests_per_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body)))
        await asyncio.gather(*tasks)
    result.ended_at = time.time()
    return result


def send(url: str, bodies: list[tuple[bytes, list[str]]], requests_per_s: float) -> SendResult:
    return asyncio.run(_send(url, bodies, requests_per_s))


def wait_visible(silver: SilverLog, event_ids: set[str], job: Job, timeout_s: float) -> set[str]:
    """Poll silver's log (new commits only) until it holds ``event_ids``; return the ones still missing."""
    deadline = time.monotonic() + timeout_s
    while True:
        silver.update()
        missing = event_ids - silver.first_seen().keys()
        if not missing or time.monotonic() > deadline:
            return missing
        job.check_alive()
        time.sleep(0.5)


def wait_running(job: Job) -> None:
    """Until the query has run a trigger (health state idle or running)."""
    deadline = time.monotonic() + JOB_START_TIMEOUT_S
    while time.monotonic() < deadline:
        job.check_alive()
        if (job.health() or {}).get("state") in ("idle", "running"):
            return
        time.sleep(0.5)
    raise TimeoutError(f"job {job.name} did not start its query within {JOB_START_TIMEOUT_S:.0f}s")


@dataclasses.dataclass
class FreshnessResult:
    trigger_s: float
    send: SendResult
    freshness_s: list[float]
    missing: int
    batches: list[dict[str, Any]]  # micro-batches that ran inside the measured window
    commit_lag_ms: float  # max(visible - commitInfo.timestamp): how far the two clocks of a commit differ
    job_start_s: float
    load_average: float


def run_freshness(platform: Platform, trigger_s: float, args: argparse.Namespace) -> FreshnessResult:
    label = f"{trigger_s:g}s".replace(".", "_")
    stream = platform.create_stream(f"bench-freshness-{label}")
    url, gateway = platform.start_gateway(stream)
    job = platform.start_job(f"freshness-{label}", stream, ["--trigger-seconds", f"{trigger_s:g}"])
    silver = SilverLog(job.silver)
    requests_per_s = args.rate / args.batch
    try:
        wait_running(job)
        job_start_s = time.time() - job.submitted_at
        # Warm-up: the first micro-batches of a fresh JVM compile and load classes for seconds.
        warm = send(url, request_bodies(int(args.rate * args.warmup), args.batch, seed=1), requests_per_s)
        if missing := wait_visible(silver, set(warm.accepted_at), job, VISIBLE_TIMEOUT_S + args.warmup):
            raise RuntimeError(f"{len(missing)} warm-up events never reached silver")
        log(f"freshness {trigger_s:g}s: warm ({len(warm.accepted_at)} events); {args.duration:g}s of load")
        bodies = request_bodies(int(args.rate * args.duration), args.batch, seed=2)
        measured = send(url, bodies, requests_per_s)
        missing = wait_visible(silver, set(measured.accepted_at), job, VISIBLE_TIMEOUT_S)
        load_average = os.getloadavg()[0]
        stopping = time.monotonic()
        platform.processes.stop_job(job.process)  # graceful: the event log is closed properly
        log(f"freshness {trigger_s:g}s: job stopped in {time.monotonic() - stopping:.0f}s")
    finally:
        platform.processes.stop(job.process)  # on an error or a signal: the whole group, now
        platform.processes.stop(gateway)
    silver.update()
    seen = silver.first_seen()
    freshness = [
        seen[event_id].visible_at - accepted
        for event_id, accepted in measured.accepted_at.items()
        if event_id in seen
    ]
    window = [
        p
        for p in batch_progress(event_log(job))
        if measured.started_at <= iso_seconds(p["timestamp"]) <= measured.ended_at + VISIBLE_TIMEOUT_S
        and p.get("numInputRows")
    ]
    commit_lag = max((c.visible_at - c.committed_at for c in silver.commits if c.committed_at), default=0.0)
    return FreshnessResult(
        trigger_s, measured, freshness, len(missing), window, commit_lag * 1000, job_start_s, load_average
    )


# ---- report --------------------------------------------------------------------------------------


def _s(ms: float) -> str:
    return f"{ms / 1000:.1f} s"


def drain_section(
    args: argparse.Namespace,
    record_bytes: float,
    put_s: float,
    raw: tuple[float, int],
    results: list[DrainResult],
    lake_roots: dict[int, str],
) -> list[str]:
    raw_s, raw_n = raw
    lines = [
        f"**Backlog drain into silver**: {args.events:,} valid envelopes (mean {record_bytes:,.0f} B) on "
        f"{SHARDS} shards, then `stream_events.py --available-now`; rate = events / (trigger time of the "
        f"first batch -> the silver commit completing the rows). Target: >= {TARGET_DRAIN:,} events/s.",
        "",
        "| measurement | events | seconds | events/s | notes |",
        "|---|---:|---:|---:|---|",
        f"| PutRecords prefill (500 per call) | {args.events:,} | {put_s:.1f} | {args.events / put_s:,.0f} "
        "| one client thread |",
        f"| baseline: raw boto3 GetRecords of the same backlog | {raw_n:,} | {raw_s:.1f} "
        f"| {raw_n / raw_s:,.0f} | Limit 10000, shards in sequence, no processing |",
    ]
    for r in results:
        batches = len(r.batches)
        steady = r.steady_rate()
        lines.append(
            f"| stream_events -> silver, maxRecordsPerShard={r.max_records:,} | {r.events:,} "
            f"| {r.seconds:.1f} | **{r.rate:,.0f}** | {batches} batches"
            + (f" ({steady:,.0f} events/s after the first)" if steady else "")
            + f"; silver {r.silver_rows:,} rows, {r.silver_distinct:,} distinct event_id; spark-submit -> "
            f"first batch {r.first_batch_at - r.submitted_at:.0f} s; load average {r.load_average:.1f} |"
        )
    lines += [
        "",
        "Where the batches' time goes (`durationMs` summed over the batches; addBatch split by the SQL "
        "executions it ran):",
        "",
        "| run | triggerExecution | latestOffset (Kinesis read) | addBatch | bronze append | parse, contract "
        "check, isEmpty | silver MERGE | driver between jobs | walCommit + commitOffsets |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        totals = r.phase_totals()
        split = addbatch_split(r, lake_roots[r.max_records])
        whole = totals["triggerExecution"] or 1

        def cell(ms: float, whole: float = whole) -> str:
            return f"{_s(ms)} ({ms / whole:.0%})"

        lines.append(
            f"| maxRecordsPerShard={r.max_records:,} | {_s(whole)} | {cell(totals['latestOffset'])} "
            f"| {cell(totals['addBatch'])} | {cell(split['bronze append'] * 1000)} "
            f"| {cell(split['other Spark jobs (isEmpty, parse + contract check, dates)'] * 1000)} "
            f"| {cell(split['silver MERGE'] * 1000)} | {cell(split['driver between Spark jobs'] * 1000)} "
            f"| {cell(totals['walCommit'] + totals['commitOffsets'])} |"
        )
    best = max(results, key=lambda r: r.rate)
    totals = best.phase_totals()
    read_share = totals["latestOffset"] / (totals["triggerExecution"] or 1)
    without_read = best.events / max((totals["triggerExecution"] - totals["latestOffset"]) / 1000, 1e-9)
    lines += [
        "",
        f"Bottleneck: {'the local Kinesis endpoint' if read_share > 0.5 else 'Spark + Delta in addBatch'}. "
        f"The Kinesis read (latestOffset) is {read_share:.0%} of the batches' time in the best run; "
        f"the endpoint alone delivers {raw_n / raw_s:,.0f} records/s, and without the read the same batches "
        f"would drain {without_read:,.0f} events/s. "
        f"Target {'met' if best.rate >= TARGET_DRAIN else 'not met'} ({best.rate:,.0f} events/s)"
        + (
            f"; the local endpoint's raw read alone ({raw_n / raw_s:,.0f}/s) is below the target too."
            if raw_n / raw_s < TARGET_DRAIN
            else "."
        ),
    ]
    return lines


def batch_cost_fit(batches: list[dict[str, Any]]) -> tuple[float, float] | None:
    """``(fixed seconds, seconds per event)`` of a batch's triggerExecution, fitted by least squares."""
    points = [(b["numInputRows"], b["durationMs"]["triggerExecution"] / 1000) for b in batches]
    if len(points) < 3 or max(x for x, _ in points) < 2 * min(x for x, _ in points):
        return None  # the sizes must differ enough for a slope to mean anything
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    if slope <= 0:
        return None
    return mean_y - slope * mean_x, slope


def freshness_section(args: argparse.Namespace, results: list[FreshnessResult]) -> list[str]:
    lines = [
        "",
        f"**Freshness, gateway acceptance -> visible in silver**: {args.rate:g} events/s offered through the "
        f"local gateway ({args.batch} events per request) for {args.duration:g} s, after a {args.warmup:g} s "
        "warm-up that reached silver; the job running continuously. Visible = mtime of the silver commit "
        f"that added the event. Target: p95 < {TARGET_P95_S:g} s with a 2-5 s trigger.",
        "",
        "| trigger | events accepted | p50 s | p95 s | max s | not visible | batches with data | batch "
        "duration p50 / max s | rows per batch | gateway p50 / p99 ms | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        durations = [b["batchDuration"] / 1000 for b in r.batches]
        rows = [b["numInputRows"] for b in r.batches]
        other = {k: v for k, v in r.send.statuses.items() if k not in ("200", "207")}
        lines.append(
            f"| {r.trigger_s:g} s | {len(r.send.accepted_at):,} | {percentile(r.freshness_s, 50):.1f} "
            f"| **{percentile(r.freshness_s, 95):.1f}** | {max(r.freshness_s, default=0):.1f} | {r.missing} "
            f"| {len(r.batches)} | {percentile(durations, 50):.1f} / {max(durations, default=0):.1f} "
            f"| {sum(rows) / max(len(rows), 1):,.0f} | {percentile(r.send.latency_ms, 50):,.0f} / "
            f"{percentile(r.send.latency_ms, 99):,.0f} | {r.load_average:.1f} |"
            + (f" other responses: {dict(other)}" if other else "")
        )
    for r in results:
        p95 = percentile(r.freshness_s, 95)
        busy = percentile([b["batchDuration"] / 1000 for b in r.batches], 50) > r.trigger_s
        lines.append(
            f"* {r.trigger_s:g} s trigger: p95 {p95:.1f} s, target {'met' if p95 < TARGET_P95_S and not r.missing else 'not met'}"
            + (
                "; batches take longer than the trigger, so they run back to back and the trigger does not "
                "set freshness: an event waits for the running batch, then for its own"
                if busy
                else ""
            )
            + f". Job start (spark-submit -> first trigger) {r.job_start_s:.0f} s; a commit's file time is "
            f"at most {r.commit_lag_ms:.0f} ms after its commitInfo.timestamp."
        )
    return lines


def cost_section(drains: list[DrainResult], freshness: list[FreshnessResult]) -> list[str]:
    """One line: the job's per-batch cost, fitted over every batch but each job's first."""
    batches = [b for r in drains for b in r.batches[1:]] + [b for r in freshness for b in r.batches]
    if not (fit := batch_cost_fit(batches)):
        return []
    fixed_s, per_event_s = fit
    sizes = [b["numInputRows"] for b in batches]
    return [
        "",
        f"The job's cost per micro-batch on this machine (least squares over {len(batches)} batches of "
        f"{min(sizes):,}-{max(sizes):,} events, each job's first batch left out): **{fixed_s:.1f} s fixed + "
        f"{per_event_s * 1e6:,.0f} µs per event**. The fixed part bounds freshness (a batch can never take "
        f"less), the per-event part bounds the drain at {1 / per_event_s:,.0f} events/s however large the "
        "batches.",
    ]


# ---- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks.streaming", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="backlog size for the drain")
    parser.add_argument("--record-bytes", type=int, default=1_000)
    parser.add_argument(
        "--max-records-per-shard",
        type=int,
        nargs="+",
        default=[stream_events.DEFAULT_MAX_RECORDS_PER_SHARD],
        help="one drain per value (default: the job's default)",
    )
    parser.add_argument("--rate", type=float, default=200.0, help="events/s offered for freshness")
    parser.add_argument("--batch", type=int, default=10, help="events per gateway request")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of measured load per trigger")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of warm-up load per trigger")
    parser.add_argument("--triggers", default="3,2", help="processing-time triggers (s) for freshness")
    parser.add_argument("--only", choices=("drain", "freshness"), help="run one part")
    parser.add_argument("--workdir", type=Path, help="keep the servers' logs, lakes and event logs here")
    return parser.parse_args(argv)


def measure_drain(platform: Platform, args: argparse.Namespace) -> tuple[list[str], list[DrainResult]]:
    stream = platform.create_stream("bench-drain")
    records = backlog_records(args.events, args.record_bytes)
    record_bytes = sum(map(len, records)) / len(records)
    client = platform.kinesis()
    log(f"drain: prefilling {args.events:,} records")
    put_s = prefill(client, stream, records)
    del records
    raw = raw_get_records(client, stream)
    log(f"drain: raw GetRecords {raw[1]:,} in {raw[0]:.1f}s")
    results = []
    for max_records in args.max_records_per_shard:
        results.append(run_drain(platform, stream, args.events, max_records))
        log(f"drain maxRecordsPerShard={max_records}: {results[-1].rate:,.0f} events/s")
    roots = {m: str(platform.workdir / f"drain-{m}" / "lake") for m in args.max_records_per_shard}
    return drain_section(args, record_bytes, put_s, raw, results, roots), results


def run(args: argparse.Namespace, workdir: Path) -> str:
    lines = [
        "### Streaming job: backlog drain into silver, and gateway-to-silver freshness",
        "",
        "`include/spark/stream_events.py` under spark-submit (local, 2 Spark cores, Delta), reading the local "
        f"Kinesis endpoint (moto) through `kinesis_local`; {os.cpu_count()} cores; load average "
        f"{os.getloadavg()[0]:.1f} at the start.",
        "",
    ]
    drains: list[DrainResult] = []
    freshness: list[FreshnessResult] = []
    with Processes(workdir) as processes:
        platform = Platform(workdir, processes)
        platform.start_moto()
        if args.only in (None, "drain"):
            section, drains = measure_drain(platform, args)
            lines += section
        if args.only in (None, "freshness"):
            for trigger in (float(t) for t in args.triggers.split(",") if t.strip()):
                freshness.append(run_freshness(platform, trigger, args))
                log(f"freshness {trigger:g}s: p95 {percentile(freshness[-1].freshness_s, 95):.1f}s")
            lines += freshness_section(args, freshness)
    lines += cost_section(drains, freshness)
    lines.append(f"\nLoad average at the end: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A SIGTERM to the benchmark unwinds the with-blocks, so every server and job it started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    previous = os.environ.get("PLATFORM__LOCAL_STATE_DIR")
    with contextlib.ExitStack() as stack:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=True)
            workdir = args.workdir
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-streaming-")))
        # spark_submit_argv builds the job wheel and writes Spark's conf under the state dir: keep it here.
        os.environ["PLATFORM__LOCAL_STATE_DIR"] = str(workdir / "state")
        try:
            report = run(args, workdir)
        finally:
            if previous is None:
                os.environ.pop("PLATFORM__LOCAL_STATE_DIR", None)
            else:
                os.environ["PLATFORM__LOCAL_STATE_DIR"] = previous
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
