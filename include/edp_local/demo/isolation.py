"""The demo's own platform instance: where it keeps state and lake, what it forces, when it refuses to start.

Unless ``PLATFORM__LOCAL_STATE_DIR`` / ``PLATFORM__LAKE__ROOT`` are set, the demo uses
``<project>/.platform/demo`` and ``<project>/data/demo/lake`` and wipes both first, so every demo starts
from nothing and its figures are exact. Directories given explicitly are never deleted: the lake must
then be empty. The platform it starts sends no live traffic and runs no scheduled DAG runs, so the only
events are the demo's and the only runs are those it triggers.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from edp.config import PlatformConfig
from edp_local.runtime.supervisor import Supervisor, pid_alive, port_is_free

STATE_VAR = "PLATFORM__LOCAL_STATE_DIR"
LAKE_VAR = "PLATFORM__LAKE__ROOT"
DEMO_STATE = Path(".platform") / "demo"
DEMO_LAKE = Path("data") / "demo" / "lake"
FORCED_SETTINGS = {
    "PLATFORM_ENV": "local",
    "PLATFORM__LOCAL_RUN__LIVE_TRAFFIC_RATE": "0",
    "PLATFORM__LOCAL_RUN__SCHEDULED_RUNS": "false",
}


class DemoRefused(RuntimeError):
    """The demo cannot run here as things are (a platform is up, the given lake is not empty...)."""


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where the demo platform lives; ``*_owned`` directories are the demo's defaults, wiped at start."""

    state_dir: Path
    lake_root: Path
    state_owned: bool
    lake_owned: bool

    def stop_command(self) -> str:
        return f"{STATE_VAR}={self.state_dir} make stop"


def demo_environment(environ: Mapping[str, str], project_root: Path) -> tuple[dict[str, str], Placement]:
    """The environment for the demo and its platform, and where that puts state and lake."""
    placement = Placement(
        state_dir=Path(environ.get(STATE_VAR) or project_root / DEMO_STATE).resolve(),
        lake_root=Path(environ.get(LAKE_VAR) or project_root / DEMO_LAKE).resolve(),
        state_owned=not environ.get(STATE_VAR),
        lake_owned=not environ.get(LAKE_VAR),
    )
    include = str(project_root / "include")
    env = {
        **environ,
        **FORCED_SETTINGS,
        STATE_VAR: str(placement.state_dir),
        LAKE_VAR: str(placement.lake_root),
        "PYTHONPATH": os.pathsep.join(p for p in (include, environ.get("PYTHONPATH", "")) if p),
    }
    return env, placement


def busy_ports(config: PlatformConfig) -> list[tuple[str, int]]:
    """The configured local ports something already listens on."""
    ports = dataclasses.asdict(config.ports)
    return [(name, port) for name, port in ports.items() if not port_is_free(port)]


def refuse_if_running(config: PlatformConfig, placement: Placement) -> None:
    """Raise :class:`DemoRefused` if a platform (``make run`` or an earlier demo) is up."""
    alive = [s.name for s in Supervisor(config, []).running_services().values() if pid_alive(s.pid)]
    if alive:
        raise DemoRefused(
            f"an earlier demo platform is still running ({', '.join(alive)}); stop it with "
            f"`{placement.stop_command()}`, then run make demo again"
        )
    taken = busy_ports(config)
    if taken:
        listed = ", ".join(f"{name}={port}" for name, port in taken)
        raise DemoRefused(
            f"a platform is already running on the configured ports ({listed}): "
            "make stop first; make demo runs its own isolated instance"
        )


def prepare_directories(placement: Placement) -> None:
    """Wipe the demo's own state and lake; refuse a non-empty lake that was given explicitly."""
    if placement.state_owned:
        shutil.rmtree(placement.state_dir, ignore_errors=True)
    if placement.lake_owned:
        shutil.rmtree(placement.lake_root, ignore_errors=True)
    elif placement.lake_root.exists() and any(placement.lake_root.iterdir()):
        raise DemoRefused(
            f"{LAKE_VAR}={placement.lake_root} is not empty; the demo reconciles exact counts and needs an "
            f"empty lake (unset {LAKE_VAR} to use {DEMO_LAKE}, which the demo wipes itself)"
        )
    placement.state_dir.mkdir(parents=True, exist_ok=True)
    placement.lake_root.mkdir(parents=True, exist_ok=True)
