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

from spark_runtime.session import get_spark


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
            [sys.executable, "-m", "local_runtime.local_aws_server", "-H", "127.0.0.1", "-p", str(port)],
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
    """Start ``python -m local_gateway`` processes configured like ``make run`` does; yields a factory.

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
            "local_gateway",
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
