"""The local AWS API endpoint: moto's server on loopback, hosting the Kinesis stream and SNS topic.

moto's server was chosen over the npm ``kinesis-local`` for throughput (about 7-11k records/s here
against about 1.1k, and kinesis-local slows as data grows) and because one process also serves SNS.
It runs through :mod:`edp_local.aws_endpoint.server`, which fixes moto's O(n) Kinesis appends and
reads and serialises requests so concurrent PutRecords cannot lose a record (about 15k records/s
put and 14k/s read here, steady as the stream grows; stock moto fell from 5k to 2.4k/s by 40k records).
State is in memory: a restart of the local platform starts with an empty stream and topic, which
``ensure_resources`` recreates. The lake, checkpoints and quarantine live on disk and survive.
"""

from __future__ import annotations

import time

from edp.config import PlatformConfig
from edp_local.runtime.environment import LOCAL_AWS_KEY, venv_bin
from edp_local.runtime.services import HttpHealthCheck, ServiceSpec


def local_aws_client(config: PlatformConfig, service: str):
    import boto3  # noqa: PLC0415 - keep `make status` fast

    return boto3.client(
        service,
        endpoint_url=config.local_aws_endpoint,
        region_name=config.stream.region,
        aws_access_key_id=LOCAL_AWS_KEY,
        aws_secret_access_key=LOCAL_AWS_KEY,
    )


def ensure_resources(config: PlatformConfig) -> None:
    """Create the platform's stream and alert topic if missing, and wait for the stream to be ACTIVE."""
    kinesis = local_aws_client(config, "kinesis")
    existing = kinesis.list_streams().get("StreamNames", [])
    if config.stream.name not in existing:
        kinesis.create_stream(StreamName=config.stream.name, ShardCount=config.stream.shard_count)
    deadline = time.monotonic() + 30
    while (
        kinesis.describe_stream_summary(StreamName=config.stream.name)["StreamDescriptionSummary"][
            "StreamStatus"
        ]
        != "ACTIVE"
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"stream {config.stream.name} did not become ACTIVE")
        time.sleep(0.2)
    local_aws_client(config, "sns").create_topic(Name=config.sns.alerts_topic)  # idempotent


def aws_endpoint_service(config: PlatformConfig) -> ServiceSpec:
    return ServiceSpec(
        name="aws-endpoint",
        command=(
            venv_bin(config, "python"),
            "-m",
            "edp_local.aws_endpoint.server",
            "-H",
            "127.0.0.1",
            "-p",
            str(config.ports.aws),
        ),
        port=config.ports.aws,
        url=config.local_aws_endpoint,
        health=HttpHealthCheck(f"{config.local_aws_endpoint}/moto-api/"),
        # moto's default account differs from ours; ARNs built from config must resolve locally.
        env={"MOTO_ACCOUNT_ID": config.aws_account_id},
        on_ready=ensure_resources,
        info={"kinesis_stream": config.stream.name, "sns_topic_arn": config.alerts_topic_arn},
        start_timeout_s=60.0,
    )
