"""One component at a time: start_service / stop_service / restart_service and their CLI, on tiny real
processes, plus the metrics-file health check a Spark job without a port is judged by."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from edp.config import PlatformConfig, get_config
from edp_local.runtime.services import HttpHealthCheck, MetricsFreshnessCheck, ServiceSpec
from edp_local.runtime.supervisor import (
    RUN_MARKER,
    SERVICE_MARKER,
    StartupError,
    StateLockTimeout,
    Supervisor,
    UnknownServiceError,
    pid_alive,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

# An HTTP server that also forks a grandchild into its own session (it escapes the process group).
SERVER = textwrap.dedent(
    """
    import http.server, subprocess, sys
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
    """
)
# A port-less job that writes a heartbeat file, after an optional start-up delay, like the Spark job.
HEARTBEAT_JOB = textwrap.dedent(
    """
    import datetime, json, os, sys, time
    path, delay = sys.argv[1], float(sys.argv[2])
    time.sleep(delay)
    while True:
        now = datetime.datetime.now(tz=datetime.UTC).isoformat()
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"written_at": now, "state": "running", "pid": os.getpid()}, f)
        os.replace(tmp, path)
        time.sleep(0.3)
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def config(tmp_path: Path) -> PlatformConfig:
    return dataclasses.replace(get_config(), project_root=tmp_path, local_state_dir=str(tmp_path / "state"))


@pytest.fixture
def scripts(tmp_path: Path) -> dict[str, Path]:
    server, job = tmp_path / "server.py", tmp_path / "job.py"
    server.write_text(SERVER)
    job.write_text(HEARTBEAT_JOB)
    return {"server": server, "job": job}


def http_service(name: str, script: Path) -> ServiceSpec:
    port = free_port()
    return ServiceSpec(
        name=name,
        command=(sys.executable, str(script), str(port)),
        port=port,
        url=f"http://127.0.0.1:{port}",
        health=HttpHealthCheck(f"http://127.0.0.1:{port}/"),
        start_timeout_s=20,
    )


def heartbeat_service(
    name: str, script: Path, metrics: Path, *, delay_s: float = 0.0, grace_s: float = 30
) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        command=(sys.executable, str(script), str(metrics), str(delay_s)),
        health=MetricsFreshnessCheck(
            metrics,
            max_age_s=5,
            startup_grace_s=grace_s,
            state_field="state",
            ended_states=frozenset({"failed"}),
        ),
        start_timeout_s=20,
    )


def marked(run_id: str, service: str | None = None) -> list[int]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            environ = proc.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if environ.get(RUN_MARKER) == run_id and (service is None or environ.get(SERVICE_MARKER) == service):
            found.append(proc.pid)
    return found


def wait_until(predicate, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


@pytest.fixture
def supervisor(config: PlatformConfig, scripts: dict[str, Path], tmp_path: Path):
    services = [
        http_service("alpha", scripts["server"]),
        http_service("beta", scripts["server"]),
        heartbeat_service("job", scripts["job"], tmp_path / "metrics.json"),
    ]
    supervisor = Supervisor(config, services)
    yield supervisor
    supervisor.stop(log=lambda _m: None)


def test_stop_service_ends_one_component_and_its_escaped_children_and_leaves_the_rest(supervisor) -> None:
    running = supervisor.start(log=lambda _m: None)
    run_id = supervisor._load_state()["run_id"]
    assert len(marked(run_id, "beta")) == 2  # the server and its escaped grandchild

    stopped = supervisor.stop_service("beta", log=lambda _m: None)

    assert stopped == running["beta"].pid
    wait_until(lambda: marked(run_id, "beta") == [])
    assert len(marked(run_id, "alpha")) == 2, "the other components and their children keep running"
    assert list(supervisor.running_services()) == ["alpha", "job"]
    status = supervisor.status()["components"]
    assert (status["alpha"]["healthy"], status["beta"]["healthy"]) == (True, False)
    assert supervisor.stop_service("beta", log=lambda _m: None) is None  # already stopped: a no-op


def test_start_service_joins_the_running_platform_and_is_idempotent(supervisor) -> None:
    supervisor.start(log=lambda _m: None)
    run_id = supervisor._load_state()["run_id"]
    supervisor.stop_service("beta", log=lambda _m: None)

    started = supervisor.start_service("beta", log=lambda _m: None)
    again = supervisor.start_service("beta", log=lambda _m: None)

    assert again.pid == started.pid
    assert supervisor._load_state()["run_id"] == run_id, "same run: `make stop` ends it with the rest"
    assert list(supervisor.running_services()) == ["alpha", "beta", "job"], "registry order is kept"
    assert supervisor.status()["healthy"] is True
    supervisor.stop(log=lambda _m: None)
    wait_until(lambda: marked(run_id) == [])


def test_restart_after_sigkill_brings_a_port_less_job_back_with_fresh_heartbeats(
    supervisor, tmp_path: Path
) -> None:
    supervisor.start_service("job", log=lambda _m: None)
    old = supervisor.running_services()["job"]
    wait_until(lambda: supervisor.status()["components"]["job"]["detail"].startswith("last heartbeat"))

    os.killpg(old.pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(old.pid))
    assert supervisor.status()["components"]["job"] == {
        "healthy": False,
        "pid": None,
        "port": None,
        "url": None,
        "detail": "not running",
    }

    new = supervisor.restart_service("job", log=lambda _m: None)

    assert new.pid != old.pid and new.started_at > old.started_at
    wait_until(lambda: json.loads((tmp_path / "metrics.json").read_text())["pid"] == new.pid)
    component = supervisor.status()["components"]["job"]
    assert component["healthy"] is True and component["pid"] == new.pid
    assert component["detail"].startswith("last heartbeat")
    assert supervisor._load_state()["services"]["job"]["pid"] == new.pid


def test_metrics_check_passes_during_start_up_grace_and_ignores_an_earlier_runs_file(
    config: PlatformConfig, scripts: dict[str, Path], tmp_path: Path
) -> None:
    metrics = tmp_path / "slow.json"
    metrics.write_text(json.dumps({"written_at": "2020-01-01T00:00:00+00:00", "state": "running"}))
    slow = heartbeat_service("slow", scripts["job"], metrics, delay_s=4, grace_s=30)
    supervisor = Supervisor(config, [slow])
    try:
        supervisor.start_service("slow", log=lambda _m: None)
        detail = supervisor.status()["components"]["slow"]["detail"]
        assert detail.startswith("starting: no heartbeat yet"), detail
        wait_until(lambda: supervisor.status()["components"]["slow"]["detail"].startswith("last heartbeat"))
    finally:
        supervisor.stop(log=lambda _m: None)


def test_start_service_rolls_back_a_component_that_never_becomes_healthy(
    config: PlatformConfig, scripts: dict[str, Path], tmp_path: Path
) -> None:
    # Beats once, reports it failed: the check fails, and start_service must not leave it behind.
    script = tmp_path / "fails.py"
    script.write_text(
        "import datetime, json, sys, time\n"
        "json.dump({'written_at': datetime.datetime.now(tz=datetime.UTC).isoformat(), 'state': 'failed'},"
        " open(sys.argv[1], 'w'))\ntime.sleep(600)\n"
    )
    failing = dataclasses.replace(
        heartbeat_service("failing", script, tmp_path / "failing.json", grace_s=0), start_timeout_s=3
    )
    supervisor = Supervisor(config, [failing])
    with pytest.raises(StartupError, match=r"failing not healthy after 3s .*job reports state='failed'"):
        supervisor.start_service("failing", log=lambda _m: None)
    assert supervisor.running_services() == {}
    assert not supervisor.state_path.exists()


def test_a_second_supervisor_waits_for_the_state_lock_and_gives_up_clearly(supervisor, config) -> None:
    other = Supervisor(config, supervisor.services)
    with supervisor.locked():
        with pytest.raises(StateLockTimeout, match="is `make run` still starting"):
            other.start_service("alpha", log=lambda _m: None, lock_timeout_s=0.5)
    assert other.running_services() == {}


def test_unknown_component_names_are_refused_with_the_known_ones(supervisor) -> None:
    with pytest.raises(
        UnknownServiceError, match="no local component named 'gamma'; known: alpha, beta, job"
    ):
        supervisor.restart_service("gamma")


def cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM", "AIRFLOW"))}
    env.update(
        PYTHONPATH=str(ROOT / "include"), PLATFORM_ENV="local", PLATFORM__LOCAL_STATE_DIR=str(state_dir)
    )
    return subprocess.run(
        [sys.executable, "-m", "edp_local.runtime", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_acts_on_one_named_component(tmp_path: Path) -> None:
    unknown = cli(tmp_path, "restart", "no-such-thing")
    assert unknown.returncode == 2
    assert "no local component named 'no-such-thing'; known: aws-endpoint" in unknown.stderr
    assert "streaming-job" in unknown.stderr

    idle = cli(tmp_path, "stop-service", "streaming-job")
    assert (idle.returncode, idle.stdout.strip()) == (0, "streaming-job was not running.")

    help_text = cli(tmp_path, "--help").stdout
    for command in ("start-service", "stop-service", "restart"):
        assert command in help_text
