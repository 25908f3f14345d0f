"""Publish platform alerts to the SNS alert topic from Airflow task callbacks.

Why not subclass the amazon provider's ``SnsNotifier``: its base class would have to be imported when
this module is (a class statement needs it), which pulls ``airflow.providers.amazon`` and boto3 into
every DAG file parse (about 0.4 s measured), and its message is a static (templated) string fixed at
DAG-definition time, whereas ours is computed from the failure context (exception, try number, log
URL, dedup key) at callback time. We reuse the provider where it matters: ``SnsHook`` resolves the
Airflow connection (credentials, region, and in local mode the loopback moto endpoint) and publishes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from orchestration.alerts import (
    TASK_FAILURE,
    Severity,
    alert_subject,
    build_alert,
    message_attributes,
    validate_alert_kind,
)
from platform_config import PlatformConfig, get_config

if TYPE_CHECKING:
    from airflow.sdk import Context


class PlatformAlertNotifier(BaseNotifier):
    """Send one JSON alert per call to ``get_config().alerts_topic_arn``.

    Use it as a task-level ``on_failure_callback`` (see :func:`orchestration.platform_default_args`):
    Airflow 3 runs task callbacks in the task's own process on the worker right after the final failure.
    """

    template_fields = ()

    def __init__(
        self,
        *,
        alert_kind: str = TASK_FAILURE,
        severity: Severity | str = Severity.ERROR,
        config: PlatformConfig | None = None,
    ) -> None:
        super().__init__()
        self.alert_kind = validate_alert_kind(alert_kind)
        self.severity = Severity(severity)
        # None: resolved when the alert is sent, so the worker's environment decides, not the parser's.
        self.config = config

    def build_payload(self, context: Context | dict[str, Any], config: PlatformConfig) -> dict[str, Any]:
        return build_alert(
            context, alert_kind=self.alert_kind, severity=self.severity, environment=config.env.value
        )

    def notify(self, context: Context) -> None:
        from airflow.providers.amazon.aws.hooks.sns import SnsHook  # noqa: PLC0415 - keep DAG parsing light

        config = self.config or get_config()
        alert = self.build_payload(context, config)
        hook = SnsHook(aws_conn_id=config.connections.aws, region_name=config.stream.region)
        response = hook.publish_to_target(
            target_arn=config.alerts_topic_arn,
            message=json.dumps(alert, sort_keys=True),
            subject=alert_subject(alert),
            message_attributes=message_attributes(alert),
        )
        self.log.info(
            "Published %s alert %s to %s (message id %s)",
            alert["alert_kind"],
            alert["dedup_key"],
            config.alerts_topic_arn,
            response.get("MessageId"),
        )
