"""IAM for the compute that runs the platform: the Airflow workers, Glue batch jobs and Databricks jobs.

Each role gets the actions its code calls, on this platform's resources only. Where an action has no
resource-level permissions (CloudWatch ``PutMetricData``, ``DescribeAlarms``...) the resource is ``*``
with a condition where the service offers one, and the cdk-nag suppression says so.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from edp.monitoring.alarms import ALARM_PREFIX, STREAMING_NAMESPACE
from edp.monitoring.metrics import NAMESPACE as PLATFORM_NAMESPACE
from edp.monitoring.remote_logging import TASK_LOG_GROUP
from edp_infra.nag import suppress
from edp_infra.settings import InfraSettings
from edp_infra.stacks.alerts import AlertsStack
from edp_infra.stacks.lake import LakeStack
from edp_infra.stacks.stream import StreamStack
from edp_infra.stacks.warehouse import WarehouseStack

MWAA_PRINCIPALS = ("airflow.amazonaws.com", "airflow-env.amazonaws.com")
KINESIS_READ = [
    "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
    "kinesis:GetShardIterator", "kinesis:ListShards",
]  # fmt: skip
SCOPED_WILDCARDS = (
    "AwsSolutions-IAM5",
    "Wildcards are object keys inside this platform's buckets, edp-* job, alarm and table names, log streams, "
    "and the metric/describe calls that have no resource-level permissions (namespace-conditioned where possible).",
)


def _arn(service: str, resource: str) -> str:
    return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


class AccessStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: InfraSettings,
        lake: LakeStack,
        stream: StreamStack,
        alerts: AlertsStack,
        warehouse: WarehouseStack,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.settings = settings
        self.lake, self.stream, self.alerts, self.warehouse = lake, stream, alerts, warehouse
        self.glue_role = self._glue_role()
        self.databricks_role, self.instance_profile = self._databricks_role()
        self.airflow_role = self._airflow_role()
        CfnOutput(self, "AirflowRoleArn", value=self.airflow_role.role_arn)
        CfnOutput(self, "GlueRoleName", value=self.glue_role.role_name)
        CfnOutput(self, "DatabricksInstanceProfileArn", value=self.instance_profile.attr_arn)

    # ---- shared grants ---------------------------------------------------------------------------------
    def _lake_read_write(self, role: iam.Role) -> None:
        bucket = self.lake.lake_bucket
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[bucket.bucket_arn]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[bucket.arn_for_objects("*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.lake.key.key_arn]
            )
        )

    def _artifacts(self, role: iam.Role, actions: list[str], prefix: str = "*") -> None:
        bucket = self.lake.artifacts_bucket
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[bucket.bucket_arn]
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=actions, resources=[bucket.arn_for_objects(prefix)]))

    def _metrics(self, role: iam.Role, namespace: str) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
            )
        )

    # ---- roles -----------------------------------------------------------------------------------------
    def _glue_role(self) -> iam.Role:
        role = iam.Role(
            self, "GlueJobRole", role_name=self.settings.platform.glue.iam_role_name,
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description="Glue 5 batch jobs of the event data platform (gold, compaction, vacuum, replay)",
        )  # fmt: skip
        self._lake_read_write(role)
        self._artifacts(role, ["s3:GetObject", "s3:PutObject"])
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[_arn("logs", "log-group:/aws-glue/*")],
            )
        )
        self._metrics(role, "Glue")
        suppress(role, [SCOPED_WILDCARDS])
        return role

    def _databricks_role(self) -> tuple[iam.Role, iam.CfnInstanceProfile]:
        role = iam.Role(
            self, "DatabricksJobsRole", role_name=self.settings.streaming_role_name,
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="Instance profile of the Databricks job clusters: read Kinesis, write the lake",
        )  # fmt: skip
        role.add_to_policy(
            iam.PolicyStatement(actions=KINESIS_READ, resources=[self.stream.stream.stream_arn])
        )
        self._lake_read_write(role)
        self._artifacts(role, ["s3:GetObject"])
        self._metrics(role, STREAMING_NAMESPACE)
        suppress(role, [SCOPED_WILDCARDS])
        profile = iam.CfnInstanceProfile(
            self,
            "DatabricksInstanceProfile",
            instance_profile_name=self.settings.streaming_role_name,
            roles=[role.role_name],
        )
        return role, profile

    def _airflow_principal(self) -> iam.IPrincipal:
        if self.settings.airflow_trusted_role_arn:
            return iam.ArnPrincipal(self.settings.airflow_trusted_role_arn)
        return iam.CompositePrincipal(*(iam.ServicePrincipal(p) for p in MWAA_PRINCIPALS))

    def _airflow_role(self) -> iam.Role:
        config = self.settings.platform
        role = iam.Role(
            self, "AirflowWorkerRole", role_name=self.settings.airflow_role_name, assumed_by=self._airflow_principal(),
            description="Airflow workers (MWAA or Astro) of the event data platform",
        )  # fmt: skip
        bucket = self.lake.lake_bucket
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[bucket.bucket_arn]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects("*")])
        )
        self._artifacts(role, ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[self.lake.key.key_arn, self.alerts.key.key_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kinesis:DescribeStreamSummary", "kinesis:ListShards"],
                resources=[self.stream.stream.stream_arn],
            )
        )
        glue_role = self.glue_role.role_arn
        statements = [
            (["glue:GetJob", "glue:CreateJob", "glue:UpdateJob", "glue:StartJobRun", "glue:GetJobRun",
              "glue:GetJobRuns", "glue:BatchStopJobRun"], [_arn("glue", f"job/{self.settings.prefix}-*")]),
            (["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
              "glue:GetPartitions"],
             [_arn("glue", "catalog"), _arn("glue", f"database/{config.athena.database}"),
              _arn("glue", f"table/{config.athena.database}/*")]),
            (["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
              "athena:StopQueryExecution"], [_arn("athena", f"workgroup/{config.athena.workgroup}")]),
            (["redshift-data:ExecuteStatement", "redshift-data:BatchExecuteStatement"],
             [self.warehouse.workgroup.attr_workgroup_workgroup_arn]),
            (["redshift-serverless:GetCredentials"], [self.warehouse.workgroup.attr_workgroup_workgroup_arn]),
            (["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource"],
             [_arn("cloudwatch", f"alarm:{ALARM_PREFIX}*")]),
            (["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:CreateLogStream", "logs:PutLogEvents",
              "logs:GetLogEvents"], [_arn("logs", f"log-group:{TASK_LOG_GROUP}"), _arn("logs", f"log-group:{TASK_LOG_GROUP}:*")]),
            (["sns:Publish", "sns:GetTopicAttributes"], [self.alerts.topic.topic_arn]),
            (["quicksight:CreateIngestion", "quicksight:DescribeIngestion"],
             [_arn("quicksight", f"dataset/{d}") for d in config.quicksight.dataset_ids]),
            (["secretsmanager:GetSecretValue"], [_arn("secretsmanager", "secret:airflow/*")]),
        ]  # fmt: skip
        for actions, resources in statements:
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"], resources=[glue_role],
                conditions={"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
            )
        )  # fmt: skip
        # No resource-level permissions exist for these calls: scoped by the caller's own statements instead.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "redshift-data:DescribeStatement",
                    "redshift-data:GetStatementResult",
                    "redshift-data:CancelStatement",
                ],
                resources=["*"],
                conditions={"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:DescribeAlarms", "logs:DescribeLogGroups"], resources=["*"]
            )
        )
        self._metrics(role, PLATFORM_NAMESPACE)
        suppress(role, [SCOPED_WILDCARDS])
        return role
