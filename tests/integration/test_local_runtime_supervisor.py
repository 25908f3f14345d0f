"""The supervisor behind `make run/stop/status`, on small real processes."""

from __future__ import annotations

import dataclasses
import socket
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from edp.config import PlatformConfig, get_config
from edp_local.runtime.services import HttpHealthCheck, ServiceSpec
from edp_local.runtime.supervisor import RUN_MARKER, PortInUseError, StartupError, Supervisor, port_is_free

pytestmark = pytest.mark.integration

# A server that also forks a grandchild into its own session, as Airflow's workers can:
# `stop` must find it through the run marker, not the process group.
SERVER_WITH_ESCAPED_CHILD = textwrap.dedent(
    """
    import http.server, subprocess, sys
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def config(tmp_path: Path) -> PlatformConfig:
    return dataclasses.replace(get_config(), project_root=tmp_path)


def http_service(name: str, port: int, script: Path) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        command=(sys.executable, str(script), str(port)),
        port=port,
        url=f"http://127.0.0.1:{port}",
        health=HttpHealthCheck(f"http://127.0.0.1:{port}/"),
        info={"role": name},
        start_timeout_s=20,
    )


@pytest.fixture
def server_script(tmp_path: Path) -> Path:
    script = tmp_path / "server.py"
    script.write_text(SERVER_WITH_ESCAPED_CHILD)
    return script


def processes_with_marker(run_id: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(RUN_MARKER) == run_id:
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def test_start_status_and_stop_leave_no_process_behind(config: PlatformConfig, server_script: Path) -> None:
    services = [
        http_service("alpha", free_port(), server_script),
        http_service("beta", free_port(), server_script),
    ]
    supervisor = Supervisor(config, services)
    running = supervisor.start(log=lambda _m: None)
    run_id = supervisor._load_state()["run_id"]
    try:
        status = supervisor.status()
        assert status["healthy"] is True
        assert status["components"]["alpha"]["pid"] == running["alpha"].pid
        assert status["components"]["beta"]["port"] == services[1].port
        assert status["components"]["beta"]["role"] == "beta"
        # each server plus its escaped grandchild
        assert len(processes_with_marker(run_id)) >= 4
    finally:
        supervisor.stop(log=lambda _m: None)
    time.sleep(0.3)
    assert processes_with_marker(run_id) == []
    status = supervisor.status()
    assert status["healthy"] is False
    assert all(c["pid"] is None for c in status["components"].values())


def test_a_taken_port_is_refused_clearly_and_nothing_starts(
    config: PlatformConfig, server_script: Path
) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        supervisor = Supervisor(config, [http_service("alpha", port, server_script)])
        with pytest.raises(PortInUseError, match=rf"port {port} \(alpha\) is already in use"):
            supervisor.start(log=lambda _m: None)
    assert supervisor.running_services() == {}


def test_a_service_that_dies_during_start_up_reports_its_log_and_stops_the_rest(
    config: PlatformConfig, server_script: Path, tmp_path: Path
) -> None:
    crasher = tmp_path / "crash.py"
    crasher.write_text("import sys; print('boom: bad config', flush=True); sys.exit(3)")
    good = http_service("alpha", free_port(), server_script)
    bad = dataclasses.replace(
        http_service("broken", free_port(), crasher), command=(sys.executable, str(crasher))
    )
    supervisor = Supervisor(config, [good, bad])
    with pytest.raises(StartupError, match="broken exited during start-up") as excinfo:
        supervisor.start(log=lambda _m: None)
    assert "boom: bad config" in str(excinfo.value)
    assert supervisor.running_services() == {}
    assert port_is_free(good.port), "the rollback must stop the services that had started"
