"""Where the streaming job runs, as the supervisor sees it: its controller and its health bounds.

The environment mapping (:mod:`edp.resources`) gives the supervisor one :class:`StreamingPlatform`:
:class:`DatabricksStreaming` here, or the local runtime's twin in ``edp_local.runtime.streaming_control``.
Their bounds differ because the platforms do: CloudWatch reports per minute (times are up to a minute
old), and a Databricks job cluster takes minutes to start before the query's first event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from edp.config import PlatformConfig
from edp.stream.supervision.controllers import DatabricksStreamingController, StreamingJobController
from edp.stream.supervision.health import HealthBounds
from edp.stream.supervision.policy import RestartPolicy


@dataclasses.dataclass(frozen=True)
class Settings:
    bounds: HealthBounds
    policy: RestartPolicy


class StreamingPlatform(Protocol):
    settings: Settings

    def controller(self, log: Callable[[str], None] = print) -> StreamingJobController: ...


DATABRICKS_SETTINGS = Settings(
    HealthBounds(
        max_heartbeat_age=timedelta(minutes=5),
        startup_grace=timedelta(minutes=15),
        max_source_lag=timedelta(minutes=15),
        max_silver_lag=timedelta(minutes=30),
    ),
    RestartPolicy(max_attempts=3, initial_backoff=timedelta(minutes=5), max_backoff=timedelta(hours=1)),
)


class DatabricksStreaming:
    """The Databricks job ``databricks.streaming_job``, driven through the provider's ``DatabricksHook``."""

    settings = DATABRICKS_SETTINGS

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def controller(self, log: Callable[[str], None] = print) -> StreamingJobController:
        from airflow.providers.databricks.hooks.databricks import DatabricksHook  # noqa: PLC0415

        hook = DatabricksHook(
            databricks_conn_id=self.config.connections.databricks, caller="streaming_supervisor"
        )
        return DatabricksStreamingController(hook, self.config.databricks.streaming_job)
