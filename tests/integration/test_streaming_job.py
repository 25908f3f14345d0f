"""``include/spark/stream_events.py`` end to end: a real moto Kinesis, spark-submit, Delta tables.

The job runs exactly as the platform runs it (``spark_submit_argv`` with the zipped packages, no
PYTHONPATH). Tables are read back with delta-rs, so the test process starts no JVM of its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

from edp.lake import BRONZE_EVENTS, QUARANTINE_EVENTS, SILVER_EVENTS
from edp.spark_runtime.submit import spark_submit_argv, spark_submit_env
from edp.stream.metrics import read_health
from tests.events import envelopes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "include" / "spark" / "stream_events.py"
PACKAGES = ("edp",)  # what the platform ships (stream_events.PACKAGES)
SALT = "streaming-job-test-salt"
JOB_TIMEOUT_S = 420


@dataclasses.dataclass
class Put:
    """One record the test put on the stream, with what Kinesis acknowledged."""

    data: bytes
    shard_id: str
    sequence_number: str
    event_id: str | None  # the event_id silver should hold it under; None if it must be quarantined
    reason_code: str | None = None


@dataclasses.dataclass
class Lake:
    root: Path
    checkpoint: Path
    state: Path

    def rows(self, spec, columns: Sequence[str]) -> list[dict[str, Any]]:
        return DeltaTable(spec.path(str(self.root))).to_pyarrow_table(columns=list(columns)).to_pylist()

    def version(self, spec) -> int:
        return DeltaTable(spec.path(str(self.root))).version()

    def log_entries(self, spec) -> int:
        log = Path(spec.path(str(self.root))) / "_delta_log"
        return len(list(log.glob("*.json"))) if log.is_dir() else 0


@pytest.fixture(scope="module")
def job_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """State dir of the submitted jobs (Spark conf, the zip of packages, metrics files)."""
    state = tmp_path_factory.mktemp("stream-events-state")
    previous = os.environ.get("PLATFORM__LOCAL_STATE_DIR")
    os.environ["PLATFORM__LOCAL_STATE_DIR"] = str(state)
    yield state
    if previous is None:
        os.environ.pop("PLATFORM__LOCAL_STATE_DIR", None)
    else:
        os.environ["PLATFORM__LOCAL_STATE_DIR"] = previous


def new_stream(kinesis_client) -> str:
    name = f"it-stream-events-{uuid.uuid4().hex[:8]}"
    kinesis_client.create_stream(StreamName=name, ShardCount=2)
    kinesis_client.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
    )
    return name


def put(client, stream: str, records: Sequence[tuple[bytes, str | None, str | None]]) -> list[Put]:
    """Put ``(payload, expected event_id, expected reason code)`` records; return the acknowledged puts."""
    entries = [{"Data": data, "PartitionKey": f"key-{n % 5}"} for n, (data, _, _) in enumerate(records)]
    response = client.put_records(StreamName=stream, Records=entries)
    assert response["FailedRecordCount"] == 0
    return [
        Put(data, ack["ShardId"], ack["SequenceNumber"], event_id, reason)
        for (data, event_id, reason), ack in zip(records, response["Records"], strict=True)
    ]


def valid_events(count: int, received_at: datetime) -> list[tuple[bytes, str, None]]:
    records = []
    for n in range(count):
        event_id = str(uuid.uuid4())
        occurred = received_at - timedelta(seconds=5)
        if n % 3 == 0:
            event = envelopes.purchase(event_id=event_id, occurred_at=occurred)
        else:
            event = envelopes.page_view(event_id=event_id, occurred_at=occurred, user_id=f"user-{n % 4}")
        records.append((envelopes.record(event, received_at), event_id, None))
    return records


@dataclasses.dataclass
class Job:
    """A submitted job: its process (leader of its own process group) and its log."""

    process: subprocess.Popen
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


def job_runner(moto_server: str, stream: str, lake: Lake) -> Callable[..., Job]:
    """``start(*extra_args)`` launches the job under spark-submit in its own process group."""

    def start(*extra: str, checkpoint: Path | None = None) -> Job:
        args = [
            "--lake-root", str(lake.root),
            "--checkpoint-dir", str(checkpoint or lake.checkpoint),
            "--stream-name", stream,
            "--region", "us-east-1",
            "--endpoint-url", moto_server,
            "--metrics-path", str(lake.state / "streaming" / "metrics.json"),
            *extra,
        ]  # fmt: skip
        argv = spark_submit_argv(SCRIPT, args, packages=PACKAGES)
        env = spark_submit_env({k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        env.update(
            PLATFORM_ENV="local",
            PLATFORM__LOCAL_STATE_DIR=str(lake.state),
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            PII_HASH_SALT=SALT,
        )
        log = lake.state / f"job-{time.monotonic_ns()}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return Job(process, log)

    return start


def kill(job: Job) -> None:
    """SIGKILL the whole process group: spark-submit, its JVM and the Python driver and workers."""
    if job.process.poll() is None:
        os.killpg(job.process.pid, signal.SIGKILL)
    job.process.wait()


def finish(job: Job) -> None:
    """Wait for a bounded run; fail with the end of its log if it did not succeed."""
    try:
        code: int | str = job.process.wait(timeout=JOB_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        kill(job)
        code = "timeout"
    assert code == 0, f"stream_events exited with {code}:\n{job.tail()}"


def batch_ids(directory: Path) -> set[int]:
    """Micro-batch ids in a checkpoint's ``offsets`` (planned) or ``commits`` (done) log."""
    return {int(p.name) for p in directory.iterdir() if p.name.isdigit()} | {-1}


def salted(value: str) -> str:
    return hashlib.sha256((SALT + value).encode()).hexdigest()


@dataclasses.dataclass
class FirstRun:
    lake: Lake
    puts: list[Put]
    start: Callable[..., Job]
    bronze: list[dict[str, Any]]
    silver: list[dict[str, Any]]
    quarantine: list[dict[str, Any]]
    health: dict[str, Any] | None
    seconds: float


SILVER_COLUMNS = ("event_id", "user_id", "event_type", "kinesis_shard_id", "kinesis_sequence_number")


@pytest.fixture(scope="module")
def first_run(moto_server: str, kinesis_client, job_state: Path, tmp_path_factory) -> FirstRun:
    """Valid events, resent duplicates and invalid records on a fresh stream; one ``--available-now`` run."""
    workdir = tmp_path_factory.mktemp("stream-events-e2e")
    lake = Lake(workdir / "lake", workdir / "checkpoint", job_state)
    stream = new_stream(kinesis_client)
    now = datetime.now(tz=UTC)
    valid = valid_events(24, now)
    unknown = envelopes.page_view()
    unknown["event_type"] = "teleport"
    broken = envelopes.purchase(occurred_at=now)
    broken["properties"]["currency"] = "XXX"
    invalid: list[tuple[bytes, str | None, str | None]] = [
        (b'{"event": {"event_id": ', None, "unparseable_json"),
        (b"\x00\x01binary", None, "unparseable_json"),
        (envelopes.record(unknown, now), None, "unknown_event_type"),
        (envelopes.record(broken, now), None, "schema_violation"),
    ]
    puts = put(kinesis_client, stream, valid[:12] + invalid[:2])
    # Producer retries: the same envelopes again, landing on other shards under other keys.
    puts += put(kinesis_client, stream, valid[12:] + valid[:4] + invalid[2:] + valid[5:7])

    start = job_runner(moto_server, stream, lake)
    began = time.monotonic()
    finish(start("--available-now"))
    seconds = time.monotonic() - began
    return FirstRun(
        lake=lake,
        puts=puts,
        start=start,
        bronze=lake.rows(BRONZE_EVENTS, ["shard_id", "sequence_number", "data"]),
        silver=lake.rows(SILVER_EVENTS, SILVER_COLUMNS),
        quarantine=lake.rows(QUARANTINE_EVENTS, ["sequence_number", "reason_code", "reason"]),
        health=read_health(job_state / "streaming" / "metrics.json"),
        seconds=seconds,
    )


def test_bronze_holds_every_record_silver_the_unique_valid_events_and_quarantine_the_rest(
    first_run: FirstRun,
) -> None:
    puts = first_run.puts

    assert sorted((r["shard_id"], r["sequence_number"], r["data"]) for r in first_run.bronze) == sorted(
        (p.shard_id, p.sequence_number, p.data) for p in puts
    )
    unique_valid = {p.event_id for p in puts if p.event_id}
    silver_ids = [r["event_id"] for r in first_run.silver]
    assert len(silver_ids) == len(set(silver_ids)) == len(unique_valid) == 24
    assert set(silver_ids) == unique_valid
    page_views = [r for r in first_run.silver if r["event_type"] == "page_view"]
    assert {r["user_id"] for r in page_views} == {salted(f"user-{n % 4}") for n in range(24) if n % 3}
    assert sorted((r["sequence_number"], r["reason_code"]) for r in first_run.quarantine) == sorted(
        (p.sequence_number, p.reason_code) for p in puts if p.reason_code
    )
    assert all(r["reason"] for r in first_run.quarantine)


def test_the_job_reports_its_health_in_the_metrics_file(first_run: FirstRun) -> None:
    health = first_run.health
    assert health is not None
    last_sequence = {}
    for p in first_run.puts:
        last_sequence[p.shard_id] = max(
            last_sequence.get(p.shard_id, p.sequence_number), p.sequence_number, key=int
        )

    assert (health["format"], health["query_name"], health["state"], health["error"]) == (
        "edp.streaming.health/v1",
        "stream_events",
        "terminated",
        None,
    )
    assert health["batch_id"] >= 0 and health["last_progress_at"]
    assert [o["end_offset"]["shards"] for o in health["committed_offsets"]] == [last_sequence]
    assert health["source_lag"]["origin"] == "kinesis_local"
    assert health["source_lag"]["max_ms_behind_latest"] == 0


def test_running_again_over_the_same_records_leaves_silver_unchanged(
    first_run: FirstRun, tmp_path: Path
) -> None:
    lake = first_run.lake
    versions = {spec.name: lake.version(spec) for spec in (BRONZE_EVENTS, SILVER_EVENTS, QUARANTINE_EVENTS)}

    finish(first_run.start("--available-now"))  # same checkpoint: nothing new to read

    assert {
        spec.name: lake.version(spec) for spec in (BRONZE_EVENTS, SILVER_EVENTS, QUARANTINE_EVENTS)
    } == versions

    finish(first_run.start("--available-now", checkpoint=tmp_path / "fresh-checkpoint"))  # re-read everything

    assert sorted(map(tuple, map(dict.values, lake.rows(SILVER_EVENTS, SILVER_COLUMNS)))) == sorted(
        map(tuple, map(dict.values, first_run.silver))
    )
    assert len(lake.rows(BRONZE_EVENTS, ["sequence_number"])) == 2 * len(first_run.puts)


def test_a_killed_job_restarted_from_its_checkpoint_loses_and_duplicates_nothing(
    moto_server: str, kinesis_client, job_state: Path, tmp_path: Path
) -> None:
    lake = Lake(tmp_path / "lake", tmp_path / "checkpoint", job_state)
    stream = new_stream(kinesis_client)
    start = job_runner(moto_server, stream, lake)
    puts = put(kinesis_client, stream, valid_events(15, datetime.now(tz=UTC)))

    job = start("--trigger-seconds", "1")
    try:
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while lake.log_entries(SILVER_EVENTS) < 2 and time.monotonic() < deadline:  # CREATE + first MERGE
            assert job.process.poll() is None, job.tail()
            time.sleep(0.2)
        assert lake.log_entries(SILVER_EVENTS) >= 2, "the job wrote no micro-batch in time"
        # More records arrive; kill the job the moment their batch has committed to bronze, before the
        # checkpoint records the batch as done (the window the transaction ids exist for).
        bronze_commits = lake.log_entries(BRONZE_EVENTS)
        puts += put(kinesis_client, stream, valid_events(15, datetime.now(tz=UTC)))
        while lake.log_entries(BRONZE_EVENTS) == bronze_commits and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        kill(job)
    planned, committed = (batch_ids(lake.checkpoint / d) for d in ("offsets", "commits"))
    assert max(planned) > max(committed), "the kill should land inside a batch (planned, not committed)"
    puts += put(kinesis_client, stream, valid_events(15, datetime.now(tz=UTC)))  # records keep arriving

    finish(start("--available-now"))

    silver_ids = [r["event_id"] for r in lake.rows(SILVER_EVENTS, ["event_id"])]
    assert len(silver_ids) == len(set(silver_ids)) == 45
    assert set(silver_ids) == {p.event_id for p in puts}
    bronze_keys = [
        (r["shard_id"], r["sequence_number"])
        for r in lake.rows(BRONZE_EVENTS, ["shard_id", "sequence_number"])
    ]
    assert sorted(bronze_keys) == sorted((p.shard_id, p.sequence_number) for p in puts)
