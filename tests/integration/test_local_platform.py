"""`make run` / `make status` / `make stop` on the real local platform, on ports of the test's own.

The platform runs as `make run` leaves it: every DAG unpaused and live demo traffic flowing. Scheduled
runs are switched off (``PLATFORM__LOCAL_RUN__SCHEDULED_RUNS=False``) so that unpausing ten DAGs does
not start their Spark jobs on a 2-core CI machine; a test checks the scheduler honours that.
"""

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

from edp_local.runtime.supervisor import RUN_MARKER

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def runtime(env: dict[str, str], *args: str, timeout: float = 360) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edp_local.runtime", *args],
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
        PLATFORM__LOCAL_RUN__SCHEDULED_RUNS="False",
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
    # `up` includes waiting (up to 240 s) for the DAG processor to parse every DAG: allow for it.
    result = runtime(platform_env, "up", timeout=720)
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


def platform_dag_ids() -> set[str]:
    return {p.stem for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_")}


def airflow_base(platform_env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{platform_env['PLATFORM__PORTS__AIRFLOW']}"


def test_up_prints_the_ui_url_and_login(
    started: subprocess.CompletedProcess[str], platform_env: dict
) -> None:
    assert started.returncode == 0, started.stdout + started.stderr
    port = platform_env["PLATFORM__PORTS__AIRFLOW"]
    assert re.search(rf"Airflow UI: +http://127\.0\.0\.1:{port}\b", started.stdout), started.stdout
    assert "login admin / admin" in started.stdout
    gateway = platform_env["PLATFORM__PORTS__GATEWAY"]
    assert f"http://127.0.0.1:{gateway}/v1/events  (header x-api-key: " in started.stdout
    assert "demo traffic:" in started.stdout and "PLATFORM__LOCAL_RUN__LIVE_TRAFFIC_RATE" in started.stdout


def test_the_printed_kpi_dashboard_url_answers_without_a_login(started, platform_env: dict) -> None:
    url = f"{airflow_base(platform_env)}/edp-dashboard/"
    assert f"KPI dashboard:  {url}  (no login needed" in started.stdout
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200 and b"KPI dashboard" in response.read()


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
        "demo-traffic",
    }
    assert expected <= set(status["components"])
    for name, component in status["components"].items():
        assert component["healthy"], (name, component)
        assert isinstance(component["pid"], int)


def test_every_platform_dag_is_listed_unpaused_and_without_import_errors(started, platform_env: dict) -> None:
    base = airflow_base(platform_env)
    token = login(base)
    expected = platform_dag_ids()
    assert expected, "the platform ships DAGs"
    dags = {d["dag_id"]: d for d in api_get(base, "/api/v2/dags?limit=100", token)["dags"]}
    assert expected <= set(dags), "`up` returns only once every DAG is parsed"
    assert [dag_id for dag_id in sorted(expected) if dags[dag_id]["is_paused"]] == []
    assert "DAGs unpaused:  " + ", ".join(sorted(expected)) in started.stdout
    errors = api_get(base, "/api/v2/importErrors", token)
    assert errors["total_entries"] == 0, errors


def read_progress(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def test_live_demo_traffic_keeps_reaching_the_gateway(started, platform_env: dict) -> None:
    status = json.loads(runtime(platform_env, "status").stdout)
    traffic = status["components"]["demo-traffic"]
    assert traffic["healthy"], traffic
    progress_file = Path(traffic["progress_file"])
    deadline = time.monotonic() + 90
    first = read_progress(progress_file)
    while time.monotonic() < deadline and not first.get("accepted"):
        time.sleep(2)
        first = read_progress(progress_file)
    assert first.get("accepted", 0) > 0, first
    later = first
    while time.monotonic() < deadline and later["accepted"] <= first["accepted"]:
        time.sleep(2)
        later = read_progress(progress_file)
    # `accepted` counts the gateway's own per-event answers: these events went through the ingest handler.
    assert later["accepted"] > first["accepted"], (first, later)
    assert later["state"] == "sending" and later["endpoint"].startswith(
        f"http://127.0.0.1:{platform_env['PLATFORM__PORTS__GATEWAY']}/"
    )


def test_with_scheduled_runs_off_unpaused_dags_get_no_scheduled_runs(started, platform_env: dict) -> None:
    base = airflow_base(platform_env)
    runs = api_get(base, "/api/v2/dags/~/dagRuns?limit=10", login(base))
    assert runs["total_entries"] == 0, [(r["dag_id"], r["run_type"]) for r in runs["dag_runs"]]


def test_up_again_is_a_no_op_while_running(started, platform_env: dict) -> None:
    again = runtime(platform_env, "up")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "started" not in again.stdout


def test_stop_leaves_no_process_behind(started, platform_env: dict) -> None:
    state = json.loads((Path(platform_env["PLATFORM__LOCAL_STATE_DIR"]) / "state.json").read_text())
    run_id = state["run_id"]
    result = runtime(platform_env, "down")
    assert result.returncode == 0, result.stderr
    # demo-traffic ends on SIGTERM with a final summary rather than being killed.
    last_line = Path(state["services"]["demo-traffic"]["log"]).read_text().splitlines()[-1]
    assert json.loads(last_line)["state"] == "stopped", last_line
    time.sleep(0.5)
    leftovers = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.environ().get(RUN_MARKER) == run_id:
                leftovers.append((proc.pid, proc.info["cmdline"]))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    assert leftovers == []
