"""Shared fixtures for integration tests: one local SparkSession per test run, and a scratch lake.

Also the local AWS endpoint (moto server) and the local API gateway, as real processes on free ports.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from pyspark.sql import SparkSession

from edp.spark_runtime.session import get_spark


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The local Delta-enabled session (offline jars from ``make setup``), shared by every Spark test.

    Starting a JVM costs seconds on a small machine, so tests share this one; keep them independent
    by writing under ``lake_dir`` and by not changing static configuration.
    """
    session = get_spark("pytest-integration")
    yield session
    session.stop()


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    """An empty lake root for one test: Delta tables go to ``lake_dir / "<table>"``."""
    lake = tmp_path / "lake"
    lake.mkdir()
    return lake


# ---- local AWS endpoint (moto server) and local API gateway, as real processes on free ports ------

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_API_KEYS = {"local-demo-key": "demo-web", "it-loadgen-key": "it-loadgen"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http_ok(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 90.0) -> None:
    """Poll ``url`` until it answers 2xx; fail with the log tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    pytest.fail(f"{url} not ready after {timeout_s}s:\n{log.read_text()[-4000:]}")


def stop_process(process: subprocess.Popen) -> None:
    """End a process we started in its own session, and its children (the gateway's workers)."""
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local Kinesis/SNS endpoint (moto, as `make run` starts it) on a free loopback port; yields its URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "edp_local.aws_endpoint.server", "-H", "127.0.0.1", "-p", str(port)],
            env={**os.environ, "PYTHONPATH": str(ROOT / "include")},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{url}/moto-api/", process, log, timeout_s=60)
        yield url
    finally:
        stop_process(process)


@pytest.fixture(scope="session")
def kinesis_client(moto_server: str):
    return boto3.client(
        "kinesis",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_stream(client, name: str, shards: int = 2) -> str:
    client.create_stream(StreamName=name, ShardCount=shards)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    return name


def read_stream(client, name: str) -> list[dict]:
    """Every record on every shard, oldest first per shard: ``{"data": dict, "partition_key", "shard"}``."""
    records = []
    for shard in client.list_shards(StreamName=name)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            records.extend(
                {"data": json.loads(r["Data"]), "partition_key": r["PartitionKey"], "shard": shard["ShardId"]}
                for r in page["Records"]
            )
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
    return records


GatewayFactory = Callable[..., str]


@pytest.fixture(scope="session")
def gateway_factory(
    moto_server: str, kinesis_client, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayFactory]:
    """Start ``python -m edp_local.gateway`` processes configured like ``make run`` does; yields a factory.

    ``factory(stream=..., spec=None, containers=1)`` creates the stream, starts a gateway whose
    platform config points at the moto server and that stream, waits for ``/v1/health`` and returns
    its base URL. Every gateway is stopped at the end of the session.
    """
    started: list[subprocess.Popen] = []
    aws_port = moto_server.rsplit(":", 1)[1]

    def start(stream: str, spec: Path | None = None, containers: int = 1) -> str:
        create_stream(kinesis_client, stream)
        port = free_port()
        workdir = tmp_path_factory.mktemp(f"gateway-{stream}")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM", "AWS_", "INGEST_"))}
        env.update(
            PYTHONPATH=str(ROOT / "include"),
            PLATFORM_ENV="local",
            PLATFORM__PORTS__AWS=aws_port,
            PLATFORM__PORTS__GATEWAY=str(port),
            PLATFORM__STREAM__NAME=stream,
            PLATFORM__LAKE__ROOT=str(workdir / "lake"),
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            INGEST_API_KEYS=json.dumps(GATEWAY_API_KEYS),
        )
        command = [
            sys.executable,
            "-m",
            "edp_local.gateway",
            "--host",
            "127.0.0.1",
            "--containers",
            str(containers),
        ]
        if spec is not None:
            command += ["--spec", str(spec)]
        log = workdir / "gateway.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/v1/health", process, log)
        return url

    yield start
    for process in started:
        stop_process(process)


@pytest.fixture(scope="session")
def gateway(gateway_factory: GatewayFactory) -> str:
    """The gateway with the shipped spec, writing to the ``it-events`` stream; yields its base URL."""
    return gateway_factory(stream="it-events")


@pytest.fixture(scope="session")
def gateway_api_keys() -> dict[str, str]:
    """The key -> app mapping every test gateway (and so its handler) runs with."""
    return dict(GATEWAY_API_KEYS)


@pytest.fixture(scope="session")
def stream_records(kinesis_client) -> Callable[[str], list[dict]]:
    """``stream_records(name)``: every record on the stream, decoded (see :func:`read_stream`)."""
    return lambda name: read_stream(kinesis_client, name)


# ---- the local alert path: Slack receiver + SNS bridge (running the sns_to_slack handler) -----------


class AlertPath:
    """The local alert path on free ports: moto SNS topic -> SNS bridge -> handler -> Slack receiver.

    ``platform_env`` is the environment a process needs to publish to this path with the platform's
    own code (``PlatformAlertNotifier``): local platform config pointing at the moto endpoint and topic.
    """

    def __init__(
        self, moto_url: str, topic_arn: str, receiver_url: str, bridge_url: str, state_dir: Path
    ) -> None:
        self.moto_url = moto_url
        self.topic_arn = topic_arn
        self.receiver_url = receiver_url
        self.bridge_url = bridge_url
        self.state_dir = state_dir
        self.account_id = topic_arn.split(":")[4]
        self.topic_name = topic_arn.rsplit(":", 1)[1]
        self.platform_env = {
            "PLATFORM_ENV": "local",
            "PLATFORM__PORTS__AWS": moto_url.rsplit(":", 1)[1],
            "PLATFORM__PORTS__SLACK": receiver_url.rsplit(":", 1)[1],
            "PLATFORM__AWS_ACCOUNT_ID": self.account_id,
            "PLATFORM__SNS__ALERTS_TOPIC": self.topic_name,
            "PLATFORM__LOCAL_STATE_DIR": str(state_dir),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def _call(self, method: str, url: str, body: dict | None = None, timeout: float = 30) -> dict | list:
        data = json.dumps(body).encode() if body is not None else (b"" if method != "GET" else None)
        request = urllib.request.Request(url, data=data, method=method)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)

    def messages(self, since: int = 0) -> list[dict]:
        return self._call("GET", f"{self.receiver_url}/messages?since={since}")  # type: ignore[return-value]

    def receiver_health(self) -> dict:
        return self._call("GET", f"{self.receiver_url}/health")  # type: ignore[return-value]

    def bridge_health(self) -> dict:
        return self._call("GET", f"{self.bridge_url}/health")  # type: ignore[return-value]

    def outage(self, status: int = 503, count: int | None = None) -> None:
        self._call("POST", f"{self.receiver_url}/_control/outage", {"status": status, "count": count})

    def recover(self) -> None:
        self._call("DELETE", f"{self.receiver_url}/_control/outage")

    def drain(self, timeout_s: float = 60) -> dict:
        """Wait until the bridge has nothing queued, running or waiting for a retry."""
        return self._call(
            "POST", f"{self.bridge_url}/_control/drain?timeout={timeout_s}", timeout=timeout_s + 5
        )  # type: ignore[return-value]

    def redrive(self) -> int:
        return self._call("POST", f"{self.bridge_url}/_control/redrive")["queued"]  # type: ignore[index]

    def dead_letters(self) -> list[dict]:
        path = self.state_dir / "slack" / "dead_letter.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def wait_for_messages(self, since: int, count: int, timeout_s: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.messages(since)
            if len(found) >= count:
                return found
            time.sleep(0.2)
        return self.messages(since)

    def settled_messages(
        self, since: int, expected: int, timeout_s: float = 60, quiet_s: float = 2.0
    ) -> list[dict]:
        """Messages after ``since`` once ``expected`` arrived and nothing else is on its way.

        SNS delivery may be synchronous (stock moto) or asynchronous (like SNS), so wait for the
        messages, then for the bridge to be idle, then a quiet period, so a duplicate would show.
        """
        self.wait_for_messages(since, expected, timeout_s)
        self.drain()
        time.sleep(quiet_s)
        self.drain()
        return self.messages(since)

    def wait_for_dead_letter(self, dedup_key: str, timeout_s: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [e for e in self.dead_letters() if e["dedup_key"] == dedup_key]
            if found:
                self.drain()
                return [e for e in self.dead_letters() if e["dedup_key"] == dedup_key]
            time.sleep(0.2)
        return []


@pytest.fixture(scope="session")
def alert_path(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertPath]:
    """The Slack receiver and the SNS bridge as real processes, the bridge subscribed to a fresh topic.

    The handler retries Slack quickly here (4 attempts, 0.2 s base) so outage tests stay short.
    """
    workdir = tmp_path_factory.mktemp("alert-path")
    sns = boto3.client(
        "sns",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    topic_arn = sns.create_topic(Name=f"it-alerts-{os.getpid()}")["TopicArn"]
    receiver_port, bridge_port = free_port(), free_port()
    path = AlertPath(
        moto_server,
        topic_arn,
        f"http://127.0.0.1:{receiver_port}",
        f"http://127.0.0.1:{bridge_port}",
        workdir,
    )
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM", "AWS_", "SLACK_"))}
    env = {
        **base_env,
        **path.platform_env,
        "PYTHONPATH": str(ROOT / "include"),
        "SLACK_RETRY_BASE_S": "0.2",
        "SLACK_RETRY_MAX_S": "1",
        "SLACK_MAX_ATTEMPTS": "4",
        "SLACK_MIN_TIME_LEFT_S": "1",
    }
    commands = {
        "slack-receiver": ["slack-receiver", "--port", str(receiver_port)],
        "sns-bridge": [
            "sns-bridge",
            "--port",
            str(bridge_port),
            "--tick-s",
            "1",
            "--resubscribe-s",
            "2",
            "--retry-delays",
            "0.5,1",
        ],
    }
    started: list[subprocess.Popen] = []
    try:
        for name, args in commands.items():
            log = workdir / f"{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "edp_local.alerting", *args],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            started.append(process)
            url = path.receiver_url if name == "slack-receiver" else path.bridge_url
            wait_http_ok(f"{url}/health", process, log, timeout_s=60)
        deadline = time.monotonic() + 30
        while not path.bridge_health()["subscribed"]:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the bridge never subscribed:\n{(workdir / 'sns-bridge.log').read_text()[-3000:]}"
                )
            time.sleep(0.2)
        yield path
    finally:
        for process in reversed(started):
            stop_process(process)
