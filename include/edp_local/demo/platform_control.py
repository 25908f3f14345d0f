"""Start and stop the demo's platform with the public commands (``python -m edp_local.runtime up|down``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import deque
from collections.abc import Mapping
from pathlib import Path

from edp.config import PlatformConfig
from edp.serving.names import dashboard_url
from edp_local.alerting.locations import slack_receiver_url
from edp_local.runtime.environment import ADMIN_USER, admin_password

UP_TIMEOUT_S = 900.0
DOWN_TIMEOUT_S = 180.0
TAIL_LINES = 40


class PlatformStartError(RuntimeError):
    pass


def _runtime(
    command: str, env: Mapping[str, str], cwd: Path, timeout_s: float, echo: bool
) -> tuple[int, str]:
    """Run ``python -m edp_local.runtime <command>``, echoing its output indented; exit code and output tail."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "edp_local.runtime", command],
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip())
            if echo:
                print(f"    {line.rstrip()}", flush=True)
        code = process.wait(timeout=timeout_s)
    return code, "\n".join(tail)


def start_platform(env: Mapping[str, str], project_root: Path) -> None:
    code, tail = _runtime("up", env, project_root, UP_TIMEOUT_S, echo=True)
    if code != 0:
        raise PlatformStartError(f"`python -m edp_local.runtime up` failed (exit {code}):\n{tail}")


def stop_platform(env: Mapping[str, str], project_root: Path, echo: bool = True) -> int:
    code, _ = _runtime("down", env, project_root, DOWN_TIMEOUT_S, echo=echo)
    return code


def platform_run_id(config: PlatformConfig) -> str | None:
    """The run marker of the platform started from this state dir (``None`` before it started)."""
    try:
        return json.loads((config.state_dir / "state.json").read_text()).get("run_id")
    except (OSError, ValueError):
        return None


def platform_urls(config: PlatformConfig) -> dict[str, str]:
    airflow = f"http://127.0.0.1:{config.ports.airflow}"
    return {
        "airflow": airflow,
        "airflow_login": f"{ADMIN_USER} / {admin_password()}",
        "dashboard": dashboard_url(config),
        "slack": slack_receiver_url(config),
        "gateway": f"http://127.0.0.1:{config.ports.gateway}",
    }
