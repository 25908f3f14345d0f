"""The alert bridge's subscription to the alert topic on the local endpoint (idempotent)."""

from __future__ import annotations

from typing import Any

from edp.config import PlatformConfig
from edp_local.alerting.locations import sns_endpoint


def ensure_subscription(sns: Any, topic_arn: str, endpoint: str) -> str:
    """Subscribe ``endpoint`` (http) to the topic unless it already is; return the subscription ARN."""
    paginator = sns.get_paginator("list_subscriptions_by_topic")
    for page in paginator.paginate(TopicArn=topic_arn):
        for subscription in page.get("Subscriptions", []):
            if subscription.get("Endpoint") == endpoint and subscription.get("Protocol") == "http":
                return subscription["SubscriptionArn"]
    response = sns.subscribe(
        TopicArn=topic_arn, Protocol="http", Endpoint=endpoint, ReturnSubscriptionArn=True
    )
    return response["SubscriptionArn"]


def ensure_bridge_subscription(config: PlatformConfig) -> str:
    """Subscribe the bridge to the alert topic on the local endpoint (idempotent)."""
    from edp_local.aws_endpoint.service import local_aws_client  # noqa: PLC0415 - boto3 only when used

    return ensure_subscription(local_aws_client(config, "sns"), config.alerts_topic_arn, sns_endpoint(config))
