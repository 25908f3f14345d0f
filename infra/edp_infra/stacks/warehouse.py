"""Redshift Serverless: a namespace (encrypted, admin password managed by Secrets Manager) and a private
workgroup at the plan's base capacity, with the role its COPY from the warehouse exports uses."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_redshiftserverless as rs
from constructs import Construct

from edp.serving.names import EXPORT_PREFIX
from edp_infra.nag import suppress
from edp_infra.settings import InfraSettings
from edp_infra.stacks.common import platform_key
from edp_infra.stacks.lake import LakeStack

ADMIN_USER = "edp_admin"
LOG_EXPORTS = ["userlog", "connectionlog", "useractivitylog"]


class WarehouseStack(Stack):
    def __init__(
        self, scope: Construct, id_: str, *, settings: InfraSettings, lake: LakeStack, **kwargs
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        config = settings.platform
        self.key = platform_key(self, "WarehouseKey", settings, "warehouse")
        self.copy_role = iam.Role(
            self,
            "CopyRole",
            role_name=settings.redshift_role_name,
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal("redshift.amazonaws.com"),
                iam.ServicePrincipal("redshift-serverless.amazonaws.com"),
            ),
            description="Redshift COPY of the gold exports from the artifacts bucket",
        )
        self.copy_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[lake.artifacts_bucket.arn_for_objects(f"{EXPORT_PREFIX}/*")],
            )
        )
        self.copy_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[lake.artifacts_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{EXPORT_PREFIX}/*"]}},
            )
        )
        self.copy_role.add_to_policy(
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[lake.key.key_arn])
        )
        suppress(
            self.copy_role,
            [("AwsSolutions-IAM5", "COPY reads any export object below the warehouse exports prefix only.")],
        )

        self.namespace = rs.CfnNamespace(
            self,
            "Namespace",
            namespace_name=settings.redshift_namespace,
            db_name=config.redshift.database,
            admin_username=ADMIN_USER,
            manage_admin_password=True,
            admin_password_secret_kms_key_id=self.key.key_arn,
            kms_key_id=self.key.key_arn,
            iam_roles=[self.copy_role.role_arn],
            default_iam_role_arn=self.copy_role.role_arn,
            log_exports=LOG_EXPORTS,
        )
        self.workgroup = rs.CfnWorkgroup(
            self,
            "Workgroup",
            workgroup_name=config.redshift.workgroup,
            namespace_name=settings.redshift_namespace,
            base_capacity=settings.capacity.redshift_base_rpu,
            publicly_accessible=False,
            enhanced_vpc_routing=True,
            subnet_ids=list(settings.redshift_subnet_ids) or None,
            config_parameters=[
                rs.CfnWorkgroup.ConfigParameterProperty(parameter_key="require_ssl", parameter_value="true")
            ],
        )
        self.workgroup.add_resource_dependency(self.namespace)
        CfnOutput(self, "RedshiftWorkgroupName", value=config.redshift.workgroup)
        CfnOutput(self, "RedshiftCopyRoleArn", value=self.copy_role.role_arn)
        CfnOutput(self, "RedshiftEndpoint", value=self.workgroup.attr_workgroup_endpoint_address)
