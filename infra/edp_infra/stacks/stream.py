"""The Kinesis stream, sized by the capacity plan, encrypted with the Kinesis service key (``aws/kinesis``).

The service key (cdk-nag KDS3) needs no key policy or KMS grants on the producer and consumer roles."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_kinesis as kinesis
from constructs import Construct

from edp_infra.settings import InfraSettings


class StreamStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, settings: InfraSettings, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        self.stream = kinesis.Stream(
            self,
            "Events",
            stream_name=settings.platform.stream.name,
            stream_mode=kinesis.StreamMode.PROVISIONED,
            shard_count=settings.capacity.shards,
            retention_period=Duration.hours(settings.stream_retention_hours),
            encryption=kinesis.StreamEncryption.MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        CfnOutput(self, "StreamName", value=self.stream.stream_name)
        CfnOutput(self, "StreamArn", value=self.stream.stream_arn)
        CfnOutput(self, "ShardCount", value=str(settings.capacity.shards))
