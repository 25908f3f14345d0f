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
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from edp.alerting.alerts import (
    TASK_FAILURE,
    Severity,
    alert_subject,
    build_failure_alert,
    message_attributes,
    validate_alert_kind,
)
from edp.config import PlatformConfig, get_config

if TYPE_CHECKING:
    from airflow.sdk import Context


class PlatformAlertNotifier(BaseNotifier):
    """Send one JSON alert per call to ``get_config().alerts_topic_arn``.

    Use it as a task-level ``on_failure_callback`` (see :func:`orchestration.platform_default_args`):
    Airflow 3 runs task callbacks in the task's own process on the worker right after the final failure.

    The failure's exception may choose the alert (:mod:`edp.alerting.failures`): its kind, severity
    and details win over this notifier's defaults, and one carrying an ``incident_id`` is published
    once per incident (:mod:`edp.alerting.incidents`). Each published alert also counts into the
    environment's metrics sink: on AWS the CloudWatch metric ``EDP/Platform Alerts`` (dimension
    ``AlertKind``), which the alarms of :mod:`edp.monitoring.alarms` watch; a failure to count never
    blocks the alert.
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
        return build_failure_alert(
            context, alert_kind=self.alert_kind, severity=self.severity, environment=config.env.value
        )

    def notify(self, context: Context) -> None:
        config = self.config or get_config()
        alert = self.build_payload(context, config)
        incident_id = alert.get("incident_id")
        if incident_id and self._incident_already_alerted(config, alert):
            return
        self.publish(alert, config)
        if incident_id:
            from edp.alerting.incidents import incident_store, mark_alerted  # noqa: PLC0415

            mark_alerted(incident_store(config), alert["alert_kind"], incident_id, datetime.now(tz=UTC))
        self._count(alert, config)

    def _incident_already_alerted(self, config: PlatformConfig, alert: dict[str, Any]) -> bool:
        from edp.alerting.incidents import incident_store  # noqa: PLC0415 - callback time only

        store = incident_store(config)
        incident = store.load(alert["alert_kind"])
        if incident is not None and incident.id == alert["incident_id"] and incident.alerted_at is not None:
            self.log.info(
                "%s incident %s was alerted at %s; not alerting again",
                alert["alert_kind"],
                incident.id,
                incident.alerted_at.isoformat(),
            )
            return True
        return False

    def _count(self, alert: dict[str, Any], config: PlatformConfig) -> None:
        """Count the alert in the environment's metrics sink (CloudWatch ``EDP/Platform Alerts`` on AWS)."""
        from edp.resources import resources  # noqa: PLC0415 - callback time only

        try:
            resources(config).metrics.count_alert(alert)
        except Exception:  # the alert is out; a missing data point only weakens a rate alarm
            self.log.warning("could not count the alert in the metrics sink", exc_info=True)

    def publish(self, alert: dict[str, Any], config: PlatformConfig) -> None:
        """Publish one alert to the topic (raises if SNS refuses it)."""
        from airflow.providers.amazon.aws.hooks.sns import SnsHook  # noqa: PLC0415 - keep DAG parsing light

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
