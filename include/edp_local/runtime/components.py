"""The local runtime's components as the platform sees them: ``platform_health`` checks them here.

The local twin of :class:`edp.monitoring.health.ManagedComponents`, reached through the environment
mapping (:mod:`edp.resources`, ``components``).
"""

from __future__ import annotations

from typing import Any

from edp.config import PlatformConfig
from edp.monitoring.health import PlatformUnhealthyError, unhealthy_components
from edp_local.runtime.registry import platform_services
from edp_local.runtime.supervisor import Supervisor


class LocalComponents:
    """Every component ``make run`` starts, supervised by :class:`edp_local.runtime.supervisor.Supervisor`."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def supervisor(self, parallelism: int | None = None) -> Supervisor:
        services = (
            platform_services(self.config)
            if parallelism is None
            else platform_services(self.config, parallelism)
        )
        return Supervisor(self.config, services)

    def check_health(self) -> dict[str, Any]:
        """Every component is alive and passes its health probe; raises naming the ones that do not."""
        status = self.supervisor().status()
        unhealthy = unhealthy_components(status)
        if unhealthy:
            raise PlatformUnhealthyError(
                f"{len(unhealthy)} of {len(status['components'])} local components unhealthy: "
                + "; ".join(unhealthy)
            )
        return {"healthy_components": sorted(status["components"])}
