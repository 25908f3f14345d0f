"""What arrives from SNS, and what it is: a platform alert, a CloudWatch alarm, or something else.

A record of an SNS Lambda event (``Records[].Sns``) becomes an :class:`SnsNotification`; its
``Message`` is then read as one of three shapes, each turned into an :class:`Incoming` with the
fields the rest of the function needs (kind, severity, dedup key, title):

* a platform alert (``edp.alerting.alerts``, schema v1): JSON with ``schema_version``, ``alert_kind``
  and ``dedup_key``; newer schema versions are read the same way, so a producer that adds keys never
  breaks delivery;
* a CloudWatch alarm state change (``edp.monitoring.alarms`` sends them to the same topic): JSON with
  ``AlarmName`` and ``NewStateValue``;
* anything else (a hand-published test message, another team's JSON): a ``foreign`` message shown
  as text. Nothing that reaches the topic is dropped for its shape.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

PLATFORM = "platform"
CLOUDWATCH = "cloudwatch"
FOREIGN = "foreign"
CLOUDWATCH_ALARM_KIND = "cloudwatch_alarm"
FOREIGN_KIND = "sns_message"
CLOUDWATCH_RUNBOOK = "docs/runbooks/cloudwatch_alarm.md"
FOREIGN_RUNBOOK = "docs/runbooks/sns_message.md"
SEVERITIES = ("info", "warning", "error", "critical")
ALARM_SEVERITY = {"ALARM": "error", "OK": "info", "INSUFFICIENT_DATA": "warning"}
_RUNBOOK_IN_TEXT = re.compile(r"[Rr]unbook:\s*(\S+)")


class MalformedRecord(ValueError):
    """The record is not an SNS notification at all (no ``Sns`` mapping or no message)."""


@dataclasses.dataclass(frozen=True)
class SnsNotification:
    """One SNS delivery as Lambda receives it.

    :param record: the original event record, kept so a dead letter can be replayed unchanged.
    """

    message_id: str
    topic_arn: str
    message: str
    subject: str | None = None
    timestamp: str | None = None
    attributes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    record: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SnsNotification:
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        if not isinstance(sns, Mapping) or not isinstance(sns.get("Message"), str):
            raise MalformedRecord("record has no Sns.Message")
        raw_attributes = sns.get("MessageAttributes") or {}
        attributes = {
            str(name): str(value.get("Value"))
            for name, value in raw_attributes.items()
            if isinstance(value, Mapping)
        }
        return cls(
            message_id=str(sns.get("MessageId") or ""),
            topic_arn=str(sns.get("TopicArn") or record.get("EventSubscriptionArn") or ""),
            message=sns["Message"],
            subject=sns.get("Subject") or None,
            timestamp=sns.get("Timestamp"),
            attributes=attributes,
            record=dict(record),
        )


@dataclasses.dataclass(frozen=True)
class Incoming:
    """A notification, read: what it is and how to gate and show it.

    :param source: ``platform``, ``cloudwatch`` or ``foreign``.
    :param alert_kind: rate limits are per kind; ``cloudwatch_alarm`` / ``sns_message`` for non-platform.
    :param body: the parsed JSON message, or ``None`` if it was not a JSON object.
    """

    notification: SnsNotification
    source: str
    alert_kind: str
    severity: str
    dedup_key: str
    title: str
    body: Mapping[str, Any] | None


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _severity(value: Any, default: str = "error") -> str:
    text = str(value or "").lower()
    return text if text in SEVERITIES else default


def is_platform_alert(body: Mapping[str, Any] | None) -> bool:
    return bool(body) and all(key in body for key in ("schema_version", "alert_kind", "dedup_key"))  # type: ignore[operator]


def is_cloudwatch_alarm(body: Mapping[str, Any] | None) -> bool:
    return bool(body) and "AlarmName" in body and "NewStateValue" in body  # type: ignore[operator]


def alarm_runbook(alarm: Mapping[str, Any]) -> str:
    """The ``Runbook: <path>`` named in the alarm's description, else the general alarm runbook."""
    match = _RUNBOOK_IN_TEXT.search(str(alarm.get("AlarmDescription") or ""))
    return match.group(1) if match else CLOUDWATCH_RUNBOOK


def read(notification: SnsNotification) -> Incoming:
    """Classify a notification; never raises for an unexpected message shape."""
    body = _json_object(notification.message)
    if is_platform_alert(body):
        assert body is not None
        return Incoming(
            notification=notification,
            source=PLATFORM,
            alert_kind=str(body["alert_kind"]),
            severity=_severity(body.get("severity")),
            dedup_key=str(body["dedup_key"]),
            title=str(body.get("title") or body["alert_kind"]),
            body=body,
        )
    if is_cloudwatch_alarm(body):
        assert body is not None
        state = str(body["NewStateValue"])
        return Incoming(
            notification=notification,
            source=CLOUDWATCH,
            alert_kind=CLOUDWATCH_ALARM_KIND,
            severity=ALARM_SEVERITY.get(state, "warning"),
            # One state change of one alarm is one event, however often SNS delivers it.
            dedup_key=f"cloudwatch/{body['AlarmName']}/{state}/{body.get('StateChangeTime', '')}",
            title=f"CloudWatch alarm {body['AlarmName']} is {state}",
            body=body,
        )
    return Incoming(
        notification=notification,
        source=FOREIGN,
        alert_kind=FOREIGN_KIND,
        severity=_severity(notification.attributes.get("severity"), default="warning"),
        dedup_key=f"sns/{notification.message_id}",
        title=notification.subject or "Message on the platform alert topic",
        body=body,
    )
