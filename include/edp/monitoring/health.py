"""Checks behind the ``platform_health`` DAG. Each returns facts for XCom or raises to fail its task.

A failed check fails its task, and the task's failure callback publishes the alert; the exception's
first line becomes the alert's ``error`` field, so it names what is unhealthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowSkipException

from edp.config import PlatformConfig


class PlatformUnhealthyError(RuntimeError):
    """A platform component is missing, down or not ready."""


def unhealthy_components(status: Mapping[str, Any]) -> list[str]:
    """``name (detail)`` for each component of a local-runtime status report that is not healthy."""
    return [
        f"{name} ({component.get('detail') or 'unhealthy'})"
        for name, component in status["components"].items()
        if not component.get("healthy")
    ]


def check_local_runtime(config: PlatformConfig) -> dict[str, Any]:
    """Every component ``make run`` started is alive and passes its health probe (local mode only)."""
    if not config.is_local:
        raise AirflowSkipException("no local runtime with PLATFORM_ENV=aws")
    from edp_local.runtime.registry import platform_services  # noqa: PLC0415 - task-time only
    from edp_local.runtime.supervisor import Supervisor  # noqa: PLC0415

    status = Supervisor(config, platform_services(config)).status()
    unhealthy = unhealthy_components(status)
    if unhealthy:
        raise PlatformUnhealthyError(
            f"{len(unhealthy)} of {len(status['components'])} local components unhealthy: "
            + "; ".join(unhealthy)
        )
    return {"healthy_components": sorted(status["components"])}


def check_event_stream(config: PlatformConfig) -> dict[str, Any]:
    """The Kinesis event stream exists and is ACTIVE (in local mode: on the loopback endpoint)."""
    from airflow.providers.amazon.aws.hooks.kinesis import KinesisHook  # noqa: PLC0415

    client = KinesisHook(aws_conn_id=config.connections.aws, region_name=config.stream.region).conn
    name = config.stream.name
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
