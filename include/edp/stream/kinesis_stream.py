"""The event stream as a resource: a Kinesis stream reached through the Airflow AWS connection.

Locally the connection and ``stream.endpoint_url`` point at the loopback moto server
(``edp_local.aws_endpoint``), on AWS at Kinesis; the environment mapping (:mod:`edp.resources`,
``stream``) says which. The client is made on first use, in a task.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from edp.config import PlatformConfig


@dataclasses.dataclass(frozen=True)
class KinesisStream:
    name: str
    region: str
    endpoint_url: str | None
    aws_conn_id: str

    @classmethod
    def from_config(cls, config: PlatformConfig) -> KinesisStream:
        return cls(
            name=config.stream.name,
            region=config.stream.region,
            endpoint_url=config.stream.endpoint_url or None,
            aws_conn_id=config.connections.aws,
        )

    def client(self) -> Any:
        from airflow.providers.amazon.aws.hooks.kinesis import KinesisHook  # noqa: PLC0415 - task-time only

        return KinesisHook(aws_conn_id=self.aws_conn_id, region_name=self.region).conn
