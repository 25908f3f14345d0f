"""The SNS bridge assembled from the platform config: the sns_to_slack handler, spool, subscription."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette

from edp.alerting.slack.dead_letter import DeadLetterFile
from edp.alerting.slack.settings import load_settings
from edp.config import PlatformConfig
from edp_local.alerting.locations import on_failure_path, sns_endpoint, spool_dir
from edp_local.alerting.sns_bridge import (
    ASYNC_RETRY_DELAYS_S,
    Bridge,
    Spool,
    create_app,
    drain_jsonl,
)
from edp_local.alerting.subscription import ensure_subscription
from edp_local.aws_endpoint.service import local_aws_client
from edp_local.gateway.lambda_runtime import FunctionConfig, LocalFunction

SNS_TO_SLACK_DIR = Path("include") / "lambda" / "sns_to_slack"
# The deployed function's timeout: room for the webhook retries (see edp.alerting.slack.settings.RetryPolicy).
FUNCTION_TIMEOUT_S = 120.0


def build_bridge_app(
    config: PlatformConfig,
    *,
    port: int | None = None,
    retry_delays: Sequence[float] = ASYNC_RETRY_DELAYS_S,
    tick_s: float = 30.0,
    resubscribe_s: float = 15.0,
) -> Starlette:
    """Load the sns_to_slack handler (cold start now, so import errors stop the start) and wire the bridge."""
    function_config = dataclasses.replace(
        FunctionConfig.read(config.project_root / SNS_TO_SLACK_DIR), timeout_s=FUNCTION_TIMEOUT_S
    )
    function = LocalFunction(function_config, region=config.stream.region, account_id=config.aws_account_id)
    settings = load_settings(config=config)
    sources = [drain_jsonl(on_failure_path(config))]
    if settings.dead_letter_path is not None:
        sources.insert(0, DeadLetterFile(settings.dead_letter_path).drain)
    sns = local_aws_client(config, "sns")
    endpoint = sns_endpoint(config, port)
    bridge = Bridge(
        function.invoke,
        Spool(spool_dir(config)),
        on_failure_path(config),
        lambda: ensure_subscription(sns, config.alerts_topic_arn, endpoint),
        function_arn=function.arn,
        retry_delays=retry_delays,
        tick_s=tick_s,
        resubscribe_s=resubscribe_s,
        redrive_sources=sources,
    )
    return create_app(bridge, lambda topic, token: sns.confirm_subscription(TopicArn=topic, Token=token))
