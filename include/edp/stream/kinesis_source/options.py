"""Options of the ``kinesis_local`` source, parsed and validated once, when the reader is created.

Option names follow Databricks' ``format("kinesis")`` where the two overlap (``streamName``,
``region``, ``initialPosition``, ``awsAccessKey``, ``awsSecretKey``), so a job passes the same
options on both; ``endpointUrl``, ``maxRecordsPerShard`` and ``metricsPath`` are ours.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

DEFAULT_REGION = "us-east-1"
DEFAULT_MAX_RECORDS_PER_SHARD = 10_000


class InitialPosition(enum.StrEnum):
    """Where a shard without a checkpointed sequence number starts."""

    TRIM_HORIZON = "trim_horizon"
    LATEST = "latest"


@dataclasses.dataclass(frozen=True)
class KinesisSourceOptions:
    """Typed options; build with :meth:`from_options` from Spark's (case-insensitive) option map.

    :param stream_name: Kinesis stream to read.
    :param region: AWS region of the stream.
    :param endpoint_url: Kinesis endpoint (moto's server locally); ``None`` leaves boto3's own resolution.
    :param initial_position: start of shards that have no sequence number in the offset yet.
    :param max_records_per_shard: admission control, the most records one micro-batch takes per shard.
    :param metrics_path: local JSON file rewritten after every read with source-lag facts, or ``None``;
        give an absolute path (the reader's Python worker need not share the driver's directory).
    :param aws_access_key: explicit credentials (local endpoint); ``None`` uses boto3's default chain.
    :param aws_secret_key: secret part of ``aws_access_key``.
    """

    stream_name: str
    region: str = DEFAULT_REGION
    endpoint_url: str | None = None
    initial_position: InitialPosition = InitialPosition.TRIM_HORIZON
    max_records_per_shard: int = DEFAULT_MAX_RECORDS_PER_SHARD
    metrics_path: str | None = None
    aws_access_key: str | None = dataclasses.field(default=None, repr=False)
    aws_secret_key: str | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> KinesisSourceOptions:
        """Parse Spark's option map; raise ``ValueError`` naming the option at fault."""
        # Spark hands a case-insensitive map; tests and direct callers may pass a plain dict.
        opts = {str(key).lower(): str(value).strip() for key, value in options.items() if value is not None}
        stream_name = opts.get("streamname", "")
        if not stream_name:
            raise ValueError("option 'streamName' is required")
        position = opts.get("initialposition", InitialPosition.TRIM_HORIZON.value).lower()
        try:
            initial_position = InitialPosition(position)
        except ValueError:
            allowed = ", ".join(p.value for p in InitialPosition)
            raise ValueError(f"option 'initialPosition'={position!r}: expected one of {allowed}") from None
        raw_max = opts.get("maxrecordspershard", str(DEFAULT_MAX_RECORDS_PER_SHARD))
        try:
            max_records = int(raw_max)
        except ValueError:
            raise ValueError(f"option 'maxRecordsPerShard'={raw_max!r} is not an integer") from None
        if max_records < 1:
            raise ValueError(f"option 'maxRecordsPerShard'={max_records} must be at least 1")
        access_key, secret_key = opts.get("awsaccesskey") or None, opts.get("awssecretkey") or None
        if (access_key is None) != (secret_key is None):
            raise ValueError("options 'awsAccessKey' and 'awsSecretKey' go together")
        return cls(
            stream_name=stream_name,
            region=opts.get("region") or DEFAULT_REGION,
            endpoint_url=opts.get("endpointurl") or None,
            initial_position=initial_position,
            max_records_per_shard=max_records,
            metrics_path=opts.get("metricspath") or None,
            aws_access_key=access_key,
            aws_secret_key=secret_key,
        )
