"""The local alerting components as ``make run`` starts them (appended in ``edp_local.runtime.registry``)."""

from __future__ import annotations

import sys

from edp.config import PlatformConfig
from edp_local.alerting.locations import (
    bridge_port,
    bridge_url,
    dead_letter_path,
    messages_path,
    on_failure_path,
    slack_receiver_url,
    slack_webhook_url,
)
from edp_local.alerting.subscription import ensure_bridge_subscription
from edp_local.runtime.environment import venv_bin
from edp_local.runtime.services import HttpHealthCheck, ServiceSpec

SLACK_RECEIVER = "slack-receiver"
ALERT_BRIDGE = "alert-bridge"


def _python(config: PlatformConfig) -> str:
    python = venv_bin(config, "python")
    return python if python != "python" else sys.executable


def slack_receiver_service(config: PlatformConfig) -> ServiceSpec:
    """The Slack stand-in: records webhook posts and shows them at its URL."""
    url = slack_receiver_url(config)
    return ServiceSpec(
        name=SLACK_RECEIVER,
        command=(
            _python(config),
            "-m",
            "edp_local.alerting",
            "slack-receiver",
            "--port",
            str(config.ports.slack),
        ),
        port=config.ports.slack,
        url=url,
        health=HttpHealthCheck(f"{url}/health", predicate=lambda body: body.get("status") == "ok"),
        info={
            "alerts_page": f"{url}/",
            "messages_json": f"{url}/messages",
            "messages_file": str(messages_path(config)),
        },
        start_timeout_s=60.0,
    )


def alert_bridge_service(config: PlatformConfig) -> ServiceSpec:
    """SNS (moto) -> the sns_to_slack Lambda handler; healthy once subscribed to the alert topic."""
    url = bridge_url(config)
    return ServiceSpec(
        name=ALERT_BRIDGE,
        command=(
            _python(config),
            "-m",
            "edp_local.alerting",
            "sns-bridge",
            "--port",
            str(bridge_port(config)),
        ),
        port=bridge_port(config),
        url=url,
        health=HttpHealthCheck(
            f"{url}/health",
            predicate=lambda body: body.get("status") == "ok" and bool(body.get("subscribed")),
        ),
        # No CloudWatch locally: the handler's EMF metric lines would only fill the log every tick.
        env={"SLACK_WEBHOOK_URL": slack_webhook_url(config), "POWERTOOLS_METRICS_DISABLED": "true"},
        on_ready=ensure_bridge_subscription,
        info={
            "subscribed_to": config.alerts_topic_arn,
            "dead_letter": str(dead_letter_path(config)),
            "on_failure": str(on_failure_path(config)),
            "redrive": f"curl -X POST {url}/_control/redrive",
        },
        start_timeout_s=60.0,
    )
