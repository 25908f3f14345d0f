"""The streaming supervisor against the real streaming job (spark-submit, moto Kinesis, Delta lake).

Each ``tick`` runs the DAG's four steps in order through the very functions its tasks call
(``edp.stream.supervision.supervise``), with the local runtime's Supervisor as the controller:
kill the job with SIGKILL and the supervisor restarts it and its heartbeats are fresh again;
``stop`` stops it and scheduled runs leave it down; a job that cannot start is restarted a bounded
number of times, then given up on, and the ``streaming_unrecoverable`` alert reaches an SQS
subscriber of the alert topic exactly once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from edp.alerting.notifier import PlatformAlertNotifier
from edp.config import PlatformConfig, get_config
from edp.stream.supervision import supervise
from edp.stream.supervision.health import HealthBounds
from edp.stream.supervision.policy import RestartPolicy
from edp.stream.supervision.supervise import Settings, StreamingUnrecoverableError, Supervision
from edp_local.runtime.streaming_service import STREAMING_JOB
from edp_local.runtime.supervisor import RUN_MARKER, SERVICE_MARKER, Supervisor, pid_alive
from tests.events import envelopes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

REGION = "us-east-1"
# Generous for a shared 2-core machine: a local Spark job needs 20-40 s to its first heartbeat.
JOB_UP_TIMEOUT_S = 240
BOUNDS = HealthBounds(
    max_heartbeat_age=timedelta(seconds=60),
    startup_grace=timedelta(seconds=180),
    max_source_lag=timedelta(minutes=10),
    max_silver_lag=timedelta(minutes=15),
)


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(2)
    tail = "" if log is None or not log.exists() else "\n" + log.read_text(errors="replace")[-5000:]
    pytest.fail(f"{what} not within {timeout_s}s{tail}")


@dataclasses.dataclass
class Platform:
    config: PlatformConfig
    sup: Supervision
    stream: str

    @property
    def supervisor(self) -> Supervisor:
        return self.sup.controller.supervisor  # type: ignore[attr-defined]

    @property
    def job_log(self) -> Path:
        return self.config.state_dir / "logs" / f"{STREAMING_JOB}.log"

    def job_pid(self) -> int | None:
        service = self.supervisor.running_services().get(STREAMING_JOB)
        return service.pid if service is not None and pid_alive(service.pid) else None

    def metrics(self) -> dict[str, Any] | None:
        path = self.config.state_dir / "streaming" / "metrics.json"
        return json.loads(path.read_text()) if path.exists() else None


def tick(platform: Platform, run_id: str, action: str = "ensure", manual: bool = False) -> dict[str, Any]:
    """One supervisor DAG run: apply_action -> check_health -> recover -> escalate (-> summarise)."""
    sup = platform.sup
    results: dict[str, Any] = {
        "apply_action": supervise.apply_action(sup, action, run_id=run_id, manual=manual)
    }
    results["check_health"] = supervise.check_health(sup)
    results["recover"] = supervise.recover(sup, results["check_health"])
    try:
        results["escalate"] = supervise.escalate(sup)
    except StreamingUnrecoverableError as exc:
        results["escalate"] = exc
    results["summary"] = supervise.summarise(sup, results)
    return results


@pytest.fixture
def platform_factory(
    moto_server: str, kinesis_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Platform]]:
    """``factory(stream=..., policy=...)``: the local platform's config on the test's moto server and dirs.

    The overrides go into the environment, so the job the Supervisor spawns sees the same settings.
    """
    created: list[Platform] = []
    aws_port = moto_server.rsplit(":", 1)[1]
    for key in list(os.environ):  # at set-up, so fixtures set up later (alert_inbox) can add their own
        if key.startswith(("PLATFORM", "AIRFLOW_CONN_", "PII_")):
            monkeypatch.delenv(key)

    def build(*, stream: str, policy: RestartPolicy) -> Platform:
        monkeypatch.setenv("PLATFORM_ENV", "local")
        monkeypatch.setenv("PLATFORM__PORTS__AWS", aws_port)
        monkeypatch.setenv("PLATFORM__STREAM__NAME", stream)
        monkeypatch.setenv("PLATFORM__LAKE__ROOT", str(tmp_path / "lake"))
        monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path / "state"))
        config = get_config()
        sup = dataclasses.replace(
            supervise.build(config, log=lambda _m: None), settings=Settings(BOUNDS, policy)
        )
        platform = Platform(config, sup, stream)
        created.append(platform)
        return platform

    yield build
    for platform in created:
        platform.supervisor.stop(log=lambda _m: None)


def new_stream(kinesis_client) -> str:
    name = f"it-supervised-{uuid.uuid4().hex[:8]}"
    kinesis_client.create_stream(StreamName=name, ShardCount=2)
    kinesis_client.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
    )
    return name


def put_events(kinesis_client, stream: str, count: int) -> None:
    now = datetime.now(tz=UTC)
    records = [
        {
            "Data": envelopes.record(envelopes.page_view(occurred_at=now - timedelta(seconds=2)), now),
            "PartitionKey": f"k{n}",
        }
        for n in range(count)
    ]
    assert kinesis_client.put_records(StreamName=stream, Records=records)["FailedRecordCount"] == 0


def healthy_since(platform: Platform, run_id: str, started: float) -> dict[str, Any] | None:
    """The tick's results once the verdict is healthy on heartbeats written after ``started``."""
    results = tick(platform, run_id)
    verdict = results["check_health"]
    beat = (verdict["facts"]["metrics"] or {}).get("heartbeat_at")
    if verdict["status"] == "healthy" and beat and datetime.fromisoformat(beat).timestamp() >= started:
        return results
    return None


def marked_processes(run_id: str, service: str) -> list[int]:
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            env = proc.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if env.get(RUN_MARKER) == run_id and env.get(SERVICE_MARKER) == service:
            found.append(proc.pid)
    return found


def test_a_killed_job_is_restarted_with_fresh_metrics_and_stop_keeps_it_down(
    platform_factory, kinesis_client
) -> None:
    stream = new_stream(kinesis_client)
    platform = platform_factory(
        stream=stream, policy=RestartPolicy(max_attempts=3, initial_backoff=timedelta(0))
    )

    first = tick(platform, "scheduled__1")
    assert first["apply_action"]["result"] == "started"
    assert first["check_health"]["status"] == "starting"
    put_events(kinesis_client, stream, 20)
    wait_for(
        lambda: healthy_since(platform, "scheduled__2", 0),
        JOB_UP_TIMEOUT_S,
        "first healthy verdict",
        platform.job_log,
    )
    silver = wait_for(lambda: platform.sup.silver_reader(), 120, "a silver commit", platform.job_log)
    assert silver is not None

    old_pid, old_run = platform.job_pid(), platform.metrics()["run_id"]
    assert old_pid is not None
    os.killpg(old_pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(old_pid), 30, "the job to die")
    killed_at = time.time()

    recovery = tick(platform, "scheduled__3")
    assert recovery["apply_action"]["result"] == "recovery"
    assert (recovery["apply_action"]["decision"], recovery["apply_action"]["attempt"]) == ("restart", 1)
    new_pid = platform.job_pid()
    assert new_pid is not None and new_pid != old_pid
    incident = platform.sup.store.load().incident
    assert incident is not None and incident.detail.startswith("not running (process exited")
    assert [a.outcome for a in incident.attempts] == [f"started pid {new_pid}"]

    healthy = wait_for(
        lambda: healthy_since(platform, "scheduled__4", killed_at),
        JOB_UP_TIMEOUT_S,
        "fresh metrics",
        platform.job_log,
    )
    assert platform.metrics()["run_id"] != old_run, "the restarted job writes its own heartbeats"
    assert healthy["summary"]["incident"] is None
    state = platform.sup.store.load()
    assert state.history[0]["id"] == incident.id and state.history[0]["resolution"] == "recovered"

    run_id = platform.supervisor._load_state()["run_id"]
    stopped = tick(platform, "manual__stop", action="stop", manual=True)
    assert stopped["apply_action"]["stopped"] == [f"pid {new_pid}"]
    assert stopped["check_health"]["status"] == "stopped"
    assert not pid_alive(new_pid) and marked_processes(run_id, STREAMING_JOB) == []
    later = tick(platform, "scheduled__5")
    assert later["apply_action"]["result"] == "left stopped (stopped on request by manual__stop)"
    assert later["recover"]["decision"] == "none"
    assert platform.job_pid() is None


@pytest.fixture
def alert_inbox(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    """The platform's alert topic on the moto server with an SQS subscriber; returns a drain function."""
    clients = {
        name: boto3.client(
            name,
            endpoint_url=moto_server,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for name in ("sns", "sqs")
    }
    topic_arn = clients["sns"].create_topic(Name=get_config().sns.alerts_topic)["TopicArn"]
    queue_url = clients["sqs"].create_queue(QueueName=f"alerts-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue_arn = clients["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    clients["sns"].subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"region_name": REGION, "endpoint_url": moto_server},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    monkeypatch.setenv("PLATFORM__AWS_ACCOUNT_ID", topic_arn.split(":")[4])  # the topic ARN the config builds

    def drain() -> list[dict[str, Any]]:
        bodies = []
        while (
            batch := clients["sqs"]
            .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            .get("Messages")
        ):
            for message in batch:
                bodies.append(json.loads(message["Body"]))
                clients["sqs"].delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    return drain


def escalate_callback(platform: Platform, run_id: str, error: StreamingUnrecoverableError) -> None:
    """What Airflow does when the escalate task fails: call its on_failure_callback (the platform's) with the context."""
    ti = SimpleNamespace(
        dag_id="streaming_supervisor", task_id="escalate", run_id=run_id, try_number=1, map_index=-1
    )
    PlatformAlertNotifier()({"ti": ti, "task_instance": ti, "run_id": run_id, "exception": error})


def test_a_job_that_cannot_run_is_given_up_on_after_bounded_restarts_and_alerted_once(
    platform_factory, alert_inbox
) -> None:
    # The stream does not exist: each start dies in the query's first offset lookup.
    platform = platform_factory(
        stream=f"it-missing-{uuid.uuid4().hex[:6]}",
        policy=RestartPolicy(max_attempts=2, initial_backoff=timedelta(0)),
    )
    decisions: list[str] = []
    alerts_seen = 0
    for n in range(1, 12):
        results = tick(platform, f"scheduled__{n}")
        decisions.append(results["apply_action"].get("decision") or results["apply_action"]["result"])
        if isinstance(results["escalate"], StreamingUnrecoverableError):
            escalate_callback(platform, f"scheduled__{n}", results["escalate"])
            alerts_seen += 1
            if alerts_seen == 3:  # three failing runs of one incident
                break
        else:
            wait_for(
                lambda: platform.job_pid() is None, JOB_UP_TIMEOUT_S, "the job to fail", platform.job_log
            )

    incident = platform.sup.store.load().incident
    assert decisions[0] == "started"
    assert decisions[-1] == "give_up"
    assert len(incident.attempts) == 2, decisions
    assert all(a.outcome.startswith("started pid") for a in incident.attempts)
    assert alerts_seen == 3
    alerts = alert_inbox()
    assert len(alerts) == 1, [a["dedup_key"] for a in alerts]
    assert alerts[0]["alert_kind"] == "streaming_unrecoverable"
    assert alerts[0]["dedup_key"] == f"streaming_unrecoverable/{incident.id}"
    assert "still unhealthy after 2 restarts" in alerts[0]["error"]
    assert incident.alerted_at is not None and incident.exhausted_at is not None
    assert "ResourceNotFound" in platform.job_log.read_text(errors="replace")
