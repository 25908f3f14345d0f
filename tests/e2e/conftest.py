"""The whole local platform, driven end to end once per session by ``make demo`` (the public contract).

``demo_platform`` runs ``make demo`` with a small event count on free ports, in tmp state and lake
directories, and keeps the platform running (``--keep-running``) so browser tests can look at the
successful DAG runs, the dashboard and the Slack receiver. Teardown stops it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_EVENTS = 3000
DEMO_TIMEOUT_S = 1800
PORTS = (
    "AIRFLOW",
    "AIRFLOW_WORKER_LOGS",
    "AIRFLOW_TRIGGERER_LOGS",
    "GATEWAY",
    "AWS",
    "SLACK",
    "ALERT_BRIDGE",
)


@dataclasses.dataclass(frozen=True)
class DemoPlatform:
    """What ``make demo`` left behind: its environment, output, summary and the running platform's URLs."""

    env: dict[str, str]
    returncode: int
    stdout: str
    stderr: str
    summary: dict[str, Any]
    airflow_url: str
    dashboard_url: str
    slack_url: str

    @property
    def state_dir(self) -> Path:
        return Path(self.env["PLATFORM__LOCAL_STATE_DIR"])

    @property
    def lake_root(self) -> Path:
        return Path(self.env["PLATFORM__LAKE__ROOT"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PLATFORM"))}
    env.update(
        PLATFORM_ENV="local",
        PLATFORM__LOCAL_STATE_DIR=str(tmp / "state"),
        PLATFORM__LAKE__ROOT=str(tmp / "lake"),
        **{f"PLATFORM__PORTS__{name}": str(free_port()) for name in PORTS},
    )
    return env


def stop_platform(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "edp_local.runtime", "down"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT / "include")},
        capture_output=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session")
def demo_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoPlatform]:
    tmp = tmp_path_factory.mktemp("demo")
    env = demo_env(tmp)
    summary_path = tmp / "summary.json"
    args = f"--keep-running --summary-json {summary_path}"
    try:
        result = subprocess.run(
            ["make", "demo", f"DEMO_EVENTS={DEMO_EVENTS}", f"ARGS={args}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=DEMO_TIMEOUT_S,
            check=False,
        )
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        urls = summary.get("urls", {})
        yield DemoPlatform(
            env=env,
            returncode=result.returncode,
            stdout=result.stdout,
            stderr=result.stderr,
            summary=summary,
            airflow_url=urls.get("airflow", f"http://127.0.0.1:{env['PLATFORM__PORTS__AIRFLOW']}"),
            dashboard_url=urls.get(
                "dashboard", f"http://127.0.0.1:{env['PLATFORM__PORTS__AIRFLOW']}/edp-dashboard/"
            ),
            slack_url=urls.get("slack", f"http://127.0.0.1:{env['PLATFORM__PORTS__SLACK']}"),
        )
    finally:
        stop_platform(env)
