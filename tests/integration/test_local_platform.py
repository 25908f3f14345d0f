"""`make run` / `make status` / `make stop` on the real local platform, on ports of the test's own."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from local_runtime.supervisor import RUN_MARKER

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def runtime(env: dict[str, str], *args: str, timeout: float = 360) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local_runtime", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def platform_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state = tmp_path_factory.mktemp("platform-state")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PLATFORM"))}
    env.update(
        PYTHONPATH=str(ROOT / "include"),
        PLATFORM_ENV="local",
        PLATFORM__LOCAL_STATE_DIR=str(state),
        PLATFORM__LAKE__ROOT=str(state / "lake"),
        **{
            f"PLATFORM__PORTS__{name}": str(free_port())
            for name in (
                "AIRFLOW",
                "AIRFLOW_WORKER_LOGS",
                "AIRFLOW_TRIGGERER_LOGS",
                "GATEWAY",
                "AWS",
                "SLACK",
                "ALERT_BRIDGE",
            )
        },
    )
    yield env
    runtime(env, "down")


@pytest.fixture(scope="module")
def started(platform_env: dict[str, str]) -> Iterator[subprocess.CompletedProcess[str]]:
    result = runtime(platform_env, "up")
    yield result


def api_get(base: str, path: str, token: str) -> dict:
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def login(base: str) -> str:
    request = urllib.request.Request(
        f"{base}/auth/token",
        data=json.dumps({"username": "admin", "password": "admin"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["access_token"]


def test_up_prints_the_ui_url_and_login(
    started: subprocess.CompletedProcess[str], platform_env: dict
) -> None:
    assert started.returncode == 0, started.stdout + started.stderr
    port = platform_env["PLATFORM__PORTS__AIRFLOW"]
    assert re.search(rf"Airflow UI: +http://127\.0\.0\.1:{port}\b", started.stdout), started.stdout
    assert "login admin / admin" in started.stdout


def test_status_is_one_json_object_with_every_component_healthy(started, platform_env: dict) -> None:
    result = runtime(platform_env, "status", "--check")
    status = json.loads(result.stdout)
    assert result.returncode == 0, status
    expected = {
        "aws-endpoint",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    }
    assert expected <= set(status["components"])
    for name, component in status["components"].items():
        assert component["healthy"], (name, component)
        assert isinstance(component["pid"], int)


def test_every_dag_is_listed_without_import_errors(started, platform_env: dict) -> None:
    base = f"http://127.0.0.1:{platform_env['PLATFORM__PORTS__AIRFLOW']}"
    token = login(base)
    expected = {p.stem for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_")}
    assert expected, "the platform ships DAGs"
    deadline = time.monotonic() + 180
    listed: set[str] = set()
    while time.monotonic() < deadline:
        listed = {d["dag_id"] for d in api_get(base, "/api/v2/dags?limit=100", token)["dags"]}
        if expected <= listed:
            break
        time.sleep(3)
    assert expected <= listed
    errors = api_get(base, "/api/v2/importErrors", token)
    assert errors["total_entries"] == 0, errors


def test_up_again_is_a_no_op_while_running(started, platform_env: dict) -> None:
    again = runtime(platform_env, "up")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "started" not in again.stdout


def test_stop_leaves_no_process_behind(started, platform_env: dict) -> None:
    state = json.loads((Path(platform_env["PLATFORM__LOCAL_STATE_DIR"]) / "state.json").read_text())
    run_id = state["run_id"]
    result = runtime(platform_env, "down")
    assert result.returncode == 0, result.stderr
    time.sleep(0.5)
    leftovers = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.environ().get(RUN_MARKER) == run_id:
                leftovers.append((proc.pid, proc.info["cmdline"]))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    assert leftovers == []
