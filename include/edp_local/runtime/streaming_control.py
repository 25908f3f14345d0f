"""The streaming job as the supervisor sees it locally: the local runtime's ``streaming-job`` component.

The local twin of :class:`edp.stream.supervision.platform.DatabricksStreaming`, reached through the
environment mapping (:mod:`edp.resources`, ``streaming``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from edp.config import PlatformConfig
from edp.stream.supervision.controllers import ControllerError, JobStatus, StopOutcome, StreamingJobController
from edp.stream.supervision.health import HealthBounds
from edp.stream.supervision.platform import Settings
from edp.stream.supervision.policy import RestartPolicy
from edp_local.runtime.registry import platform_services
from edp_local.runtime.streaming_service import STREAMING_JOB
from edp_local.runtime.supervisor import PortInUseError, StartupError, Supervisor, pid_alive

LOCAL_SETTINGS = Settings(
    HealthBounds(
        max_heartbeat_age=timedelta(minutes=2),
        startup_grace=timedelta(minutes=3),
        max_source_lag=timedelta(minutes=10),
        max_silver_lag=timedelta(minutes=15),
    ),
    RestartPolicy(max_attempts=3, initial_backoff=timedelta(minutes=2), max_backoff=timedelta(minutes=30)),
)


class LocalStreamingController:
    """The local runtime's ``streaming-job`` component (see :mod:`edp_local.runtime.streaming_service`)."""

    kind = "local"

    def __init__(self, supervisor: Supervisor, name: str, log: Callable[[str], None] = print) -> None:
        self.supervisor = supervisor
        self.name = name
        self.log = log
        supervisor.spec(name)  # fail early on a registry without the job

    def status(self) -> JobStatus:
        service = self.supervisor.running_services().get(self.name)
        if service is None:
            return JobStatus(False, detail="not started by the local runtime")
        started = datetime.fromtimestamp(service.started_at, tz=UTC)
        if pid_alive(service.pid):
            return JobStatus(True, f"pid {service.pid}", started, f"log {service.log}", service.log)
        return JobStatus(
            False, f"pid {service.pid}", started, f"process exited; log {service.log}", service.log
        )

    def start(self, *, token: str | None = None) -> JobStatus:
        try:
            self.supervisor.start_service(self.name, log=self.log)
        except (StartupError, PortInUseError) as exc:
            raise ControllerError(f"{self.name} did not start: {exc}") from exc
        return self.status()

    def stop(self) -> StopOutcome:
        pid = self.supervisor.stop_service(self.name, log=self.log)
        return StopOutcome(stopped=(f"pid {pid}",) if pid else ())

    def begin_stop(self) -> StopOutcome:
        return self.stop()  # TERM, then KILL after a short grace: quick enough to wait for

    def wait_stopped(self, pending: Sequence[str]) -> list[str]:
        return []

    def restart(self, *, token: str | None = None) -> JobStatus:
        try:
            self.supervisor.restart_service(self.name, log=self.log)
        except (StartupError, PortInUseError) as exc:
            raise ControllerError(f"{self.name} did not restart: {exc}") from exc
        return self.status()


class LocalStreaming:
    """The ``streaming-job`` component of the local runtime, supervised with local bounds."""

    settings = LOCAL_SETTINGS

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def controller(self, log: Callable[[str], None] = print) -> StreamingJobController:
        supervisor = Supervisor(self.config, platform_services(self.config))
        return LocalStreamingController(supervisor, STREAMING_JOB, log)
