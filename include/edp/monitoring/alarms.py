"""CloudWatch alarms for the platform, as code, applied idempotently.

The alarms watch what Airflow cannot watch about itself: they keep working when the scheduler,
the workers or a DAG are down, and their actions publish to the same SNS alert topic, so they reach
Slack by the same path as task failures (the SNS -> Slack function formats alarm messages).

| alarm | metric | fires when |
| --- | --- | --- |
| ``edp-platform-kinesis-iterator-age`` | ``AWS/Kinesis GetRecords.IteratorAgeMilliseconds`` | the stream's consumer is > 5 min behind for 5 min |
| ``edp-platform-streaming-heartbeat`` | ``EDP/Streaming Heartbeat`` | the streaming job sent no heartbeat for 5 min (missing data breaches) |
| ``edp-platform-data-freshness`` | ``EDP/Platform DataFreshnessSeconds`` (silver.events) | silver is older than twice the freshness bound, or the freshness DAG stopped reporting |
| ``edp-platform-dag-task-failures`` | ``EDP/Platform Alerts`` (task_failure) | 10+ task failure alerts in 15 min (a failure storm) |
| ``edp-platform-quality-gate-failures`` | ``EDP/Platform Alerts`` (quality_gate_failed) | 3+ quality gate failures in an hour |

Each single failure is alerted by Airflow itself; these alarms add what no single task sees (rates,
lag, silence). Their descriptions name a runbook section (``Runbook: docs/runbooks/...``), which the
Slack message links.

:func:`apply_alarms` compares each definition with what CloudWatch has and calls ``put_metric_alarm``
only for missing or changed alarms, so it can run on a schedule (the ``monitoring_alarms`` DAG) or
from the CLI (``python -m edp.monitoring apply``) any number of times.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from edp.config import PlatformConfig
from edp.config.settings import RESOURCE_PREFIX
from edp.monitoring.metrics import ALERTS_METRIC, FRESHNESS_METRIC, NAMESPACE

ALARM_PREFIX = f"{RESOURCE_PREFIX}-platform-"
RUNBOOK = "docs/runbooks/cloudwatch_alarm.md"
STREAMING_NAMESPACE = "EDP/Streaming"
STREAMING_QUERY = "stream_events"  # edp.lake.STREAM_EVENTS_QUERY; kept literal so this stays light
SILVER_EVENTS_TABLE = "silver.events"
DEFAULT_FRESHNESS_BOUND = timedelta(minutes=15)

# The fields put_metric_alarm takes that we manage, in describe_alarms' spelling.
COMPARED_FIELDS = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)


@dataclasses.dataclass(frozen=True)
class AlarmSpec:
    """One metric alarm; :meth:`request` is the ``put_metric_alarm`` request."""

    name: str
    description: str
    namespace: str
    metric: str
    dimensions: Mapping[str, str]
    statistic: str
    period_s: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str
    actions: tuple[str, ...]
    runbook_anchor: str = ""

    def request(self) -> dict[str, Any]:
        runbook = f"{RUNBOOK}#{self.runbook_anchor}" if self.runbook_anchor else RUNBOOK
        return {
            "AlarmName": self.name,
            "AlarmDescription": f"{self.description} Runbook: {runbook}",
            "ActionsEnabled": True,
            "AlarmActions": list(self.actions),
            "OKActions": list(self.actions),
            "Namespace": self.namespace,
            "MetricName": self.metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(self.dimensions.items())],
            "Statistic": self.statistic,
            "Period": self.period_s,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints_to_alarm,
            "Threshold": float(self.threshold),
            "ComparisonOperator": self.comparison,
            "TreatMissingData": self.treat_missing_data,
        }


def platform_alarms(
    config: PlatformConfig, freshness_bound: timedelta = DEFAULT_FRESHNESS_BOUND
) -> list[AlarmSpec]:
    """The platform's alarms for ``config``'s stream and alert topic."""
    actions = (config.alerts_topic_arn,)
    return [
        AlarmSpec(
            name=f"{ALARM_PREFIX}kinesis-iterator-age",
            description=f"Consumers of Kinesis stream {config.stream.name} are more than 5 minutes behind.",
            namespace="AWS/Kinesis",
            metric="GetRecords.IteratorAgeMilliseconds",
            dimensions={"StreamName": config.stream.name},
            statistic="Maximum",
            period_s=60,
            evaluation_periods=5,
            datapoints_to_alarm=5,
            threshold=timedelta(minutes=5).total_seconds() * 1000,
            comparison="GreaterThanThreshold",
            treat_missing_data="notBreaching",  # no reader polling: the heartbeat alarm covers that
            actions=actions,
            runbook_anchor="kinesis-iterator-age",
        ),
        AlarmSpec(
            name=f"{ALARM_PREFIX}streaming-heartbeat",
            description="The streaming job sent no heartbeat for 5 minutes (stopped, crashed or stuck).",
            namespace=STREAMING_NAMESPACE,
            metric="Heartbeat",
            dimensions={"QueryName": STREAMING_QUERY},
            statistic="Sum",
            period_s=60,
            evaluation_periods=5,
            datapoints_to_alarm=5,
            threshold=1,
            comparison="LessThanThreshold",
            treat_missing_data="breaching",
            actions=actions,
            runbook_anchor="streaming-heartbeat",
        ),
        AlarmSpec(
            name=f"{ALARM_PREFIX}data-freshness",
            description=(
                f"{SILVER_EVENTS_TABLE} is older than {2 * freshness_bound.total_seconds() / 60:g} minutes, "
                "or the data_freshness DAG stopped reporting."
            ),
            namespace=NAMESPACE,
            metric=FRESHNESS_METRIC,
            dimensions={"Table": SILVER_EVENTS_TABLE},
            statistic="Maximum",
            period_s=300,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            threshold=2 * freshness_bound.total_seconds(),
            comparison="GreaterThanThreshold",
            treat_missing_data="breaching",
            actions=actions,
            runbook_anchor="data-freshness",
        ),
        AlarmSpec(
            name=f"{ALARM_PREFIX}dag-task-failures",
            description="10 or more task failure alerts within 15 minutes: a failure storm.",
            namespace=NAMESPACE,
            metric=ALERTS_METRIC,
            dimensions={"AlertKind": "task_failure"},
            statistic="Sum",
            period_s=900,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            threshold=10,
            comparison="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            actions=actions,
            runbook_anchor="dag-task-failures",
        ),
        AlarmSpec(
            name=f"{ALARM_PREFIX}quality-gate-failures",
            description="3 or more quality gate failures within an hour: data quality is degrading.",
            namespace=NAMESPACE,
            metric=ALERTS_METRIC,
            dimensions={"AlertKind": "quality_gate_failed"},
            statistic="Sum",
            period_s=3600,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            threshold=3,
            comparison="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            actions=actions,
            runbook_anchor="quality-gate-failures",
        ),
    ]


def _normalise(alarm: Mapping[str, Any]) -> dict[str, Any]:
    """The compared fields of a request or a ``describe_alarms`` entry, in one comparable form."""
    out: dict[str, Any] = {}
    for field in COMPARED_FIELDS:
        value = alarm.get(field)
        if field == "Dimensions":
            value = sorted((d["Name"], d["Value"]) for d in value or [])
        elif field in ("AlarmActions", "OKActions"):
            value = sorted(value or [])
        elif field == "Threshold" and value is not None:
            value = float(value)
        out[field] = value
    return out


def _existing(client: Any, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), 100):  # describe_alarms takes at most 100 names
        paginator = client.get_paginator("describe_alarms")
        for page in paginator.paginate(
            AlarmNames=list(names[start : start + 100]), AlarmTypes=["MetricAlarm"]
        ):
            found.update({alarm["AlarmName"]: alarm for alarm in page.get("MetricAlarms", [])})
    return found


def _managed_names(client: Any) -> set[str]:
    names: set[str] = set()
    for page in client.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=ALARM_PREFIX, AlarmTypes=["MetricAlarm"]
    ):
        names.update(alarm["AlarmName"] for alarm in page.get("MetricAlarms", []))
    return names


def apply_alarms(
    client: Any, specs: Iterable[AlarmSpec], *, prune: bool = False, dry_run: bool = False
) -> dict[str, list[str]]:
    """Make CloudWatch match ``specs``: create missing alarms, update changed ones, leave the rest.

    :param client: a boto3 CloudWatch client.
    :param prune: also delete alarms named ``edp-platform-*`` that are no longer defined.
    :param dry_run: report what would change without changing anything.
    :returns: alarm names by outcome: ``created``, ``updated``, ``unchanged``, ``deleted``.
    """
    desired = {spec.name: spec.request() for spec in specs}
    existing = _existing(client, sorted(desired))
    report: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "deleted": []}
    for name, request in sorted(desired.items()):
        current = existing.get(name)
        if current is not None and _normalise(current) == _normalise(request):
            report["unchanged"].append(name)
            continue
        if not dry_run:
            tags = [{"Key": "platform", "Value": RESOURCE_PREFIX}] if current is None else None
            client.put_metric_alarm(**request, **({"Tags": tags} if tags else {}))
        report["created" if current is None else "updated"].append(name)
    if prune:
        stale = sorted(_managed_names(client) - set(desired))
        if stale and not dry_run:
            client.delete_alarms(AlarmNames=stale)
        report["deleted"] = stale
    return report
