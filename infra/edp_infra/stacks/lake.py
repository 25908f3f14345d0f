"""The lake: the Delta lake and artifacts buckets, their access logs, the Glue database, the Athena workgroup."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from edp.serving.lake_query import ATHENA_RESULTS_PREFIX
from edp.serving.names import EXPORT_PREFIX
from edp_infra.nag import suppress
from edp_infra.settings import InfraSettings
from edp_infra.stacks.common import platform_key, secure_bucket

ATHENA_ENGINE_V3 = "Athena engine version 3"
ATHENA_SCAN_LIMIT_BYTES = 100 * 1024**3  # one ad hoc query may scan at most 100 GiB


class LakeStack(Stack):
    """S3 buckets (lake, artifacts, access logs), the lake's KMS key, Glue database and Athena workgroup."""

    def __init__(self, scope: Construct, id_: str, *, settings: InfraSettings, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        config = settings.platform
        self.key = platform_key(self, "LakeKey", settings, "lake")

        self.access_logs = secure_bucket(
            self, "AccessLogs", name=f"{config.data_bucket}-access-logs", key=None, access_logs=None, versioned=False,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(365))],
        )  # fmt: skip
        suppress(
            self.access_logs,
            [("AwsSolutions-S1", "This is the access-log target bucket; logging it to itself would loop.")],
        )

        lake_prefix = config.lake.root.removeprefix(f"s3://{config.data_bucket}").strip("/")
        quarantine = "/".join(p for p in (lake_prefix, "quarantine", "ingest") if p) + "/"
        self.lake_bucket = secure_bucket(
            self, "LakeBucket", name=config.data_bucket, key=self.key, access_logs=self.access_logs,
            logs_prefix="lake/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-ingest-quarantine", prefix=quarantine,
                    expiration=Duration.days(settings.quarantine_retention_days),
                ),
            ],
        )  # fmt: skip
        self.artifacts_bucket = secure_bucket(
            self, "ArtifactsBucket", name=config.artifacts_bucket, key=self.key, access_logs=self.access_logs,
            logs_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-athena-results", prefix=f"{ATHENA_RESULTS_PREFIX}/",
                    expiration=Duration.days(settings.athena_results_retention_days),
                ),
                s3.LifecycleRule(
                    id="expire-warehouse-exports", prefix=f"{EXPORT_PREFIX}/", expiration=Duration.days(14)
                ),
            ],
        )  # fmt: skip

        self.database = glue.CfnDatabase(
            self,
            "LakeDatabase",
            catalog_id=self.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=config.athena.database, description="Event data platform: Delta lake tables"
            ),
        )
        self.workgroup = athena.CfnWorkGroup(
            self,
            "AthenaWorkgroup",
            name=config.athena.workgroup,
            description="Event data platform: ad hoc and catalog queries over the lake",
            state="ENABLED",
            recursive_delete_option=False,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=ATHENA_SCAN_LIMIT_BYTES,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version=ATHENA_ENGINE_V3
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{config.artifacts_bucket}/{ATHENA_RESULTS_PREFIX}/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=self.key.key_arn
                    ),
                ),
            ),
        )
        self.workgroup.node.add_dependency(self.artifacts_bucket)

        CfnOutput(self, "LakeBucketName", value=self.lake_bucket.bucket_name)
        CfnOutput(self, "ArtifactsBucketName", value=self.artifacts_bucket.bucket_name)
        CfnOutput(self, "LakeRoot", value=config.lake.root)
        CfnOutput(self, "LakeKeyArn", value=self.key.key_arn)
        CfnOutput(self, "AthenaWorkgroupName", value=self.workgroup.name)
        CfnOutput(self, "GlueDatabaseName", value=config.athena.database)
