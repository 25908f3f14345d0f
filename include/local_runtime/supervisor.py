"""Start, check and stop the local platform's processes.

Every component runs in its own session (process group) and carries a marker variable, so
``stop`` can end whole groups and then sweep any descendant that escaped its group: Airflow's
scheduler and LocalExecutor workers outlive a SIGTERM to the parent otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from local_runtime.environment import platform_environment
from local_runtime.services import ServiceSpec
from platform_config import PlatformConfig

RUN_MARKER = "EDP_LOCAL_RUN_ID"
STOP_GRACE_S = 20.0


class PortInUseError(RuntimeError):
    pass


class StartupError(RuntimeError):
    pass


@dataclasses.dataclass
class RunningService:
    name: str
    pid: int
    port: int | None
    url: str
    log: str
    started_at: float
    info: dict[str, str]


class Supervisor:
    def __init__(self, config: PlatformConfig, services: Sequence[ServiceSpec]) -> None:
        self.config = config
        self.services = list(services)
        self.state_path = config.state_dir / "state.json"
        self.log_dir = config.state_dir / "logs"

    # ---- state -----------------------------------------------------------------------------
    def _load_state(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {}
        return json.loads(self.state_path.read_text())

    def _save_state(self, run_id: str, running: dict[str, RunningService]) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"run_id": run_id, "services": {k: dataclasses.asdict(v) for k, v in running.items()}}
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        tmp.replace(self.state_path)

    def running_services(self) -> dict[str, RunningService]:
        services = self._load_state().get("services", {})
        return {name: RunningService(**data) for name, data in services.items()}

    # ---- start -----------------------------------------------------------------------------
    def check_ports(self, services: Iterable[ServiceSpec]) -> None:
        taken = [s for s in services if s.port is not None and not port_is_free(s.port)]
        if taken:
            lines = [f"  port {s.port} ({s.name}) is already in use" for s in taken]
            raise PortInUseError(
                "cannot start the local platform:\n"
                + "\n".join(lines)
                + "\nStop whatever holds it (`make stop` if it is an earlier run), or choose other ports, "
                "e.g. PLATFORM__PORTS__AIRFLOW=8081 make run"
            )

    def start(self, log=print) -> dict[str, RunningService]:
        already = {n: s for n, s in self.running_services().items() if pid_alive(s.pid)}
        pending = [s for s in self.services if s.name not in already]
        self.check_ports(pending)
        run_id = self._load_state().get("run_id") if already else None
        run_id = run_id or uuid.uuid4().hex
        running = dict(already)
        base_env = {**os.environ, **platform_environment(self.config), RUN_MARKER: run_id}
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            for spec in pending:
                running[spec.name] = self._spawn(spec, base_env)
                self._save_state(run_id, running)
                log(f"  started {spec.name} (pid {running[spec.name].pid})")
                self._wait_healthy(spec, running[spec.name])
                if spec.on_ready is not None:
                    spec.on_ready(self.config)
                log(f"  {spec.name} is healthy")
        except BaseException:
            self._save_state(run_id, running)
            self.stop(log=lambda _msg: None)
            raise
        return running

    def _spawn(self, spec: ServiceSpec, base_env: dict[str, str]) -> RunningService:
        log_path = self.log_dir / f"{spec.name}.log"
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(  # noqa: S603 - argv comes from the service registry
                list(spec.command),
                cwd=self.config.project_root,
                env={**base_env, **spec.env},
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() signals the whole group
            )
        return RunningService(
            name=spec.name,
            pid=process.pid,
            port=spec.port,
            url=spec.url,
            log=str(log_path),
            started_at=time.time(),
            info=dict(spec.info),
        )

    def _wait_healthy(self, spec: ServiceSpec, service: RunningService) -> None:
        deadline = time.monotonic() + spec.start_timeout_s
        detail = "not probed yet"
        while time.monotonic() < deadline:
            if not pid_alive(service.pid):
                raise StartupError(
                    f"{spec.name} exited during start-up; last log lines:\n{tail(service.log)}"
                )
            healthy, detail = spec.health.probe()
            if healthy:
                return
            time.sleep(1.0)
        raise StartupError(
            f"{spec.name} not healthy after {spec.start_timeout_s:.0f}s ({detail}); last log lines:\n"
            f"{tail(service.log)}"
        )

    # ---- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        running = self.running_services()
        components: dict[str, Any] = {}
        for spec in self.services:
            svc = running.get(spec.name)
            alive = svc is not None and pid_alive(svc.pid)
            healthy, detail = spec.health.probe() if alive else (False, "not running")
            components[spec.name] = {
                "healthy": healthy,
                "pid": svc.pid if alive else None,
                "port": spec.port,
                "url": spec.url or None,
                "detail": detail,
                **dict(spec.info),
            }
        return {
            "platform_env": self.config.env.value,
            "healthy": all(c["healthy"] for c in components.values()),
            "components": components,
        }

    # ---- stop ------------------------------------------------------------------------------
    def stop(self, log=print) -> list[int]:
        """Stop every group we started, then any process still carrying this run's marker."""
        state = self._load_state()
        run_id = state.get("run_id")
        services = [RunningService(**d) for d in state.get("services", {}).values()]
        for svc in reversed(services):
            if signal_group(svc.pid, signal.SIGTERM):
                log(f"  stopping {svc.name} (pid {svc.pid})")
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(group_alive(s.pid) for s in services):
            time.sleep(0.2)
        for svc in services:
            signal_group(svc.pid, signal.SIGKILL)
        leftovers = sweep_marked_processes(run_id) if run_id else []
        if self.state_path.exists():
            self.state_path.unlink()
        return leftovers


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def group_alive(pgid: int) -> bool:
    _reap(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our own child, so a zombie does not look alive."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def sweep_marked_processes(run_id: str) -> list[int]:
    """Kill processes that left their group but inherited this run's marker (e.g. task workers)."""
    import psutil  # noqa: PLC0415 - only needed on stop

    killed: list[int] = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(RUN_MARKER) == run_id:
                proc.kill()
                killed.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return killed


def tail(path: str | Path, lines: int = 25) -> str:
    try:
        content = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(content[-lines:])
