"""Checks behind the ``platform_health`` DAG. Each returns facts for XCom or raises to fail its task.

A failed check fails its task, and the task's failure callback publishes the alert; the exception's
first line becomes the alert's ``error`` field, so it names what is unhealthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from edp.config import PlatformConfig


class PlatformUnhealthyError(RuntimeError):
    """A platform component is missing, down or not ready."""


class NotSupervisedHereError(RuntimeError):
    """The environment's components are not processes this machine supervises."""


class Components(Protocol):
    """The platform's own processes, as far as this environment runs them."""

    def check_health(self) -> dict[str, Any]:
        """Facts when every component is healthy; raises :class:`PlatformUnhealthyError` (or skips)."""
        ...

    def supervisor(self, parallelism: int | None = None) -> Any:
        """The process supervisor behind ``make run``; raises :class:`NotSupervisedHereError` if none."""
        ...


class ManagedComponents:
    """AWS: every component is a managed service; CloudWatch alarms watch them, nothing to check here."""

    def check_health(self) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException  # noqa: PLC0415 - task-time only

        raise AirflowSkipException("no local runtime with PLATFORM_ENV=aws")

    def supervisor(self, parallelism: int | None = None) -> Any:
        raise NotSupervisedHereError("the local runtime only runs with PLATFORM_ENV=local")


def unhealthy_components(status: Mapping[str, Any]) -> list[str]:
    """``name (detail)`` for each component of a local-runtime status report that is not healthy."""
    return [
        f"{name} ({component.get('detail') or 'unhealthy'})"
        for name, component in status["components"].items()
        if not component.get("healthy")
    ]


def check_local_runtime(config: PlatformConfig) -> dict[str, Any]:
    """Every component ``make run`` started is alive and passes its health probe (skipped on AWS)."""
    from edp.resources import resources  # noqa: PLC0415 - task-time only

    return resources(config).components.check_health()


def check_event_stream(config: PlatformConfig) -> dict[str, Any]:
    """The Kinesis event stream exists and is ACTIVE (in local mode: on the loopback endpoint)."""
    from edp.resources import resources  # noqa: PLC0415 - task-time only

    stream = resources(config).stream
    client, name = stream.client(), stream.name
    try:
        summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    except client.exceptions.ResourceNotFoundException:
        raise PlatformUnhealthyError(f"Kinesis stream {name!r} does not exist") from None
    status = summary["StreamStatus"]
    if status != "ACTIVE":
        raise PlatformUnhealthyError(f"Kinesis stream {name!r} is {status}, not ACTIVE")
    return {"stream": name, "status": status, "open_shards": summary.get("OpenShardCount")}


def check_alert_topic(config: PlatformConfig) -> dict[str, Any]:
    """The SNS alert topic exists; without it no failure alert can be delivered."""
    from airflow.providers.amazon.aws.hooks.sns import SnsHook  # noqa: PLC0415

    client = SnsHook(aws_conn_id=config.connections.aws, region_name=config.stream.region).get_conn()
    arn = config.alerts_topic_arn
    try:
        attributes = client.get_topic_attributes(TopicArn=arn)["Attributes"]
    except client.exceptions.NotFoundException:
        raise PlatformUnhealthyError(f"SNS alert topic {arn} does not exist") from None
    return {"topic_arn": arn, "subscriptions_confirmed": int(attributes.get("SubscriptionsConfirmed", 0))}


def summarise(results: Mapping[str, Any]) -> dict[str, str]:
    """One word per check for the run's summary: its XCom result, or none when it failed or skipped."""
    return {check: "ok" if result is not None else "no result" for check, result in sorted(results.items())}
