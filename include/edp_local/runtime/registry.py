"""The list of local components. To add one, append a ServiceSpec here."""

from __future__ import annotations

from typing import Any

from edp.config import PlatformConfig
from edp_local.alerting.services import alert_bridge_service, slack_receiver_service
from edp_local.aws_endpoint.service import aws_endpoint_service
from edp_local.runtime.airflow_components import airflow_services
from edp_local.runtime.gateway_service import gateway_service
from edp_local.runtime.services import ServiceSpec
from edp_local.runtime.serving_status import serving_resources
from edp_local.runtime.streaming_service import streaming_service
from edp_local.runtime.traffic_service import traffic_service


def platform_services(config: PlatformConfig, parallelism: int = 4) -> list[ServiceSpec]:
    """Every component ``make run`` starts, in start order (stop runs in reverse).

    Live demo traffic comes last, once the gateway and the streaming job are up, and only with a
    ``local_run.live_traffic_rate`` above 0.
    """
    services = [
        aws_endpoint_service(config),
        gateway_service(config),
        # The alert path before Airflow, so the first alerts of its tasks reach Slack.
        slack_receiver_service(config),
        alert_bridge_service(config),
        *airflow_services(config, parallelism),
        streaming_service(config),
    ]
    if config.local_run.live_traffic_rate > 0:
        services.append(traffic_service(config))
    return services


def platform_resources(config: PlatformConfig) -> dict[str, Any]:
    """Where the local data lives, for ``make status``: files only, no process to supervise."""
    return {"lake_root": config.lake.root, **serving_resources(config)}
