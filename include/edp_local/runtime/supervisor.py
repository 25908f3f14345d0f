"""Start, check and stop the local platform's processes.

Every component runs in its own session (process group) and carries marker variables (the run, and
its own name), so ``stop`` can end whole groups and then sweep any descendant that escaped its group:
Airflow's scheduler and LocalExecutor workers outlive a SIGTERM to the parent otherwise.

One component can also be started, stopped or restarted on its own (``start_service`` and friends):
the streaming supervisor DAG restarts the streaming job that way. Changes to the state file happen
under an exclusive lock (``state.lock``), so a DAG task restarting a component and ``make run`` still
starting the platform never both start it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from edp.config import PlatformConfig
from edp_local.runtime.environment import platform_environment
from edp_local.runtime.services import ServiceSpec

RUN_MARKER = "EDP_LOCAL_RUN_ID"
SERVICE_MARKER = "EDP_LOCAL_SERVICE"
STOP_GRACE_S = 20.0
# `make run` holds the lock while it starts everything (a few minutes at most): wait that long.
LOCK_TIMEOUT_S = 300.0
# `make stop` must always work, so it waits briefly and then goes ahead without the lock.
STOP_LOCK_TIMEOUT_S = 15.0


class PortInUseError(RuntimeError):
    pass


class StartupError(RuntimeError):
    pass


class UnknownServiceError(KeyError):
    pass


class StateLockTimeout(TimeoutError):
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
        self.lock_path = config.state_dir / "state.lock"
        self.log_dir = config.state_dir / "logs"
        self._lock_depth = 0

    def spec(self, name: str) -> ServiceSpec:
        for spec in self.services:
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in self.services)
        raise UnknownServiceError(f"no local component named {name!r}; known: {known}")

    # ---- lock ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        """Hold the exclusive state lock (re-entrant within this object); raise StateLockTimeout.

        flock locks belong to an open file, so two Supervisor objects in one process exclude each other.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as lock_file:
            self._acquire(lock_file, timeout_s)
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _acquire(self, lock_file: Any, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StateLockTimeout(
                        f"another local-runtime command holds {self.lock_path} (is `make run` still "
                        f"starting the platform?); gave up after {timeout_s:.0f}s"
                    ) from None
                time.sleep(0.2)

    # ---- state -----------------------------------------------------------------------------
    def _load_state(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {}
        return json.loads(self.state_path.read_text())

    def _save_state(self, run_id: str, running: dict[str, RunningService]) -> None:
        if not running:
            self.state_path.unlink(missing_ok=True)
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        # Registry order, whatever order components were (re)started in: `stop` ends them in reverse.
        order = {spec.name: index for index, spec in enumerate(self.services)}
        names = sorted(running, key=lambda name: order.get(name, len(order)))
        payload = {"run_id": run_id, "services": {k: dataclasses.asdict(running[k]) for k in names}}
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

    def _alive_services(self) -> dict[str, RunningService]:
        return {n: s for n, s in self.running_services().items() if pid_alive(s.pid)}

    def _base_env(self, run_id: str) -> dict[str, str]:
        return {**os.environ, **platform_environment(self.config), RUN_MARKER: run_id}

    def start(self, log=print) -> dict[str, RunningService]:
        with self.locked():
            already = self._alive_services()
            pending = [s for s in self.services if s.name not in already]
            self.check_ports(pending)
            run_id = self._load_state().get("run_id") if already else None
            run_id = run_id or uuid.uuid4().hex
            running = dict(already)
            base_env = self._base_env(run_id)
            self.log_dir.mkdir(parents=True, exist_ok=True)
            try:
                for spec in pending:
                    running[spec.name] = self._spawn(spec, base_env)
                    self._save_state(run_id, running)
                    log(f"  started {spec.name} (pid {running[spec.name].pid})")
                    self._wait_ready(spec, running[spec.name])
                    log(f"  {spec.name} is healthy")
            except BaseException:
                self._save_state(run_id, running)
                self.stop(log=lambda _msg: None)
                raise
            return running

    def _wait_ready(self, spec: ServiceSpec, service: RunningService) -> None:
        self._wait_healthy(spec, service)
        if spec.on_ready is not None:
            spec.on_ready(self.config)

    # ---- one component ---------------------------------------------------------------------
    def start_service(self, name: str, log=print, lock_timeout_s: float = LOCK_TIMEOUT_S) -> RunningService:
        """Start one component unless it is running, and wait until healthy; return it either way.

        It joins the current run (same run marker, so ``make stop`` ends it too), or starts a new run
        when nothing else is up. If it does not come up healthy it is stopped again and the error raised.
        """
        spec = self.spec(name)
        with self.locked(lock_timeout_s):
            alive = self._alive_services()
            if name in alive:
                log(f"  {name} is already running (pid {alive[name].pid})")
                return alive[name]
            self.check_ports([spec])
            run_id = (self._load_state().get("run_id") if alive else None) or uuid.uuid4().hex
            self.log_dir.mkdir(parents=True, exist_ok=True)
            running = dict(alive)
            running[name] = self._spawn(spec, self._base_env(run_id))
            self._save_state(run_id, running)
            log(f"  started {name} (pid {running[name].pid})")
            try:
                self._wait_ready(spec, running[name])
            except BaseException:
                self.stop_service(name, log=lambda _msg: None)
                raise
            log(f"  {name} is healthy")
            return running[name]

    def stop_service(self, name: str, log=print, lock_timeout_s: float = LOCK_TIMEOUT_S) -> int | None:
        """Stop one component's process group (TERM, then KILL after a grace period) and forget it.

        Returns the pid that was stopped, or None when it was not running. Processes that left the group
        but carry this component's markers are killed too. The rest of the platform is untouched.
        """
        self.spec(name)
        with self.locked(lock_timeout_s):
            state = self._load_state()
            run_id = state.get("run_id")
            running = self.running_services()
            service = running.pop(name, None)
            stopped = None
            if service is not None:
                if self._terminate([service], log):
                    stopped = service.pid
                if run_id:
                    sweep_marked_processes(run_id, service=name)
            if run_id:
                self._save_state(run_id, running)
            return stopped

    def restart_service(self, name: str, log=print, lock_timeout_s: float = LOCK_TIMEOUT_S) -> RunningService:
        """Stop one component (if running), then start it and wait until healthy, under one lock."""
        self.spec(name)
        with self.locked(lock_timeout_s):
            self.stop_service(name, log=log)
            return self.start_service(name, log=log)

    def _spawn(self, spec: ServiceSpec, base_env: dict[str, str]) -> RunningService:
        log_path = self.log_dir / f"{spec.name}.log"
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(  # noqa: S603 - argv comes from the service registry
                list(spec.command),
                cwd=self.config.project_root,
                env={**base_env, **spec.env, SERVICE_MARKER: spec.name},
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
            healthy, detail = spec.health.probe(started_at=service.started_at)
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
            healthy, detail = (
                spec.health.probe(started_at=svc.started_at) if alive and svc else (False, "not running")
            )
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
        try:
            with self.locked(STOP_LOCK_TIMEOUT_S):
                return self._stop_all(log)
        except StateLockTimeout:
            log(f"  {self.lock_path} is held by another command; stopping anyway")
            return self._stop_all(log)

    def _stop_all(self, log) -> list[int]:
        state = self._load_state()
        run_id = state.get("run_id")
        services = [RunningService(**d) for d in state.get("services", {}).values()]
        self._terminate(list(reversed(services)), log)
        leftovers = sweep_marked_processes(run_id) if run_id else []
        if self.state_path.exists():
            self.state_path.unlink()
        return leftovers

    @staticmethod
    def _terminate(services: Sequence[RunningService], log) -> bool:
        """SIGTERM each group (in the given order), SIGKILL what is left after the grace period.

        Returns whether any of the groups was still there to signal.
        """
        signalled = False
        for svc in services:
            if signal_group(svc.pid, signal.SIGTERM):
                signalled = True
                log(f"  stopping {svc.name} (pid {svc.pid})")
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(group_alive(s.pid) for s in services):
            time.sleep(0.2)
        for svc in services:
            signal_group(svc.pid, signal.SIGKILL)
        return signalled


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


def sweep_marked_processes(run_id: str, service: str | None = None) -> list[int]:
    """Kill processes that left their group but inherited this run's marker (e.g. task workers).

    With ``service``, only those that also carry that component's marker.
    """
    import psutil  # noqa: PLC0415 - only needed on stop

    killed: list[int] = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            environ = proc.environ()
            if environ.get(RUN_MARKER) == run_id and (
                service is None or environ.get(SERVICE_MARKER) == service
            ):
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
