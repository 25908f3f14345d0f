"""Small building blocks every stack uses: a rotating customer-managed key, a TLS-only bucket."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from edp_infra.settings import InfraSettings


def platform_key(scope: Construct, id_: str, settings: InfraSettings, purpose: str) -> kms.Key:
    """A customer-managed key with yearly rotation, kept if its stack is deleted (data stays readable)."""
    return kms.Key(
        scope,
        id_,
        alias=f"alias/{settings.prefix}/{purpose}",
        description=f"Event data platform: {purpose}",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
    )


def log_group(scope: Construct, id_: str, settings: InfraSettings, name: str) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        id_,
        log_group_name=name,
        retention=_retention(settings.log_retention_days),
        removal_policy=RemovalPolicy.RETAIN,
    )


RETENTIONS = {
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def _retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch retention that keeps ``days``, at most a year."""
    return RETENTIONS[min((d for d in RETENTIONS if d >= days), default=365)]


def secure_bucket(
    scope: Construct,
    id_: str,
    *,
    name: str | None,
    key: kms.IKey | None,
    access_logs: s3.IBucket | None,
    logs_prefix: str = "",
    lifecycle_rules: list[s3.LifecycleRule] | None = None,
    versioned: bool = True,
) -> s3.Bucket:
    """Encrypted, private, TLS-only, owner-enforced, versioned (old versions expire after 30 days)."""
    rules = list(lifecycle_rules or [])
    rules.append(
        s3.LifecycleRule(
            id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)
        )
    )
    if versioned:
        rules.append(
            s3.LifecycleRule(id="expire-old-versions", noncurrent_version_expiration=Duration.days(30))
        )
    return s3.Bucket(
        scope,
        id_,
        bucket_name=name,
        encryption=s3.BucketEncryption.KMS if key else s3.BucketEncryption.S3_MANAGED,
        encryption_key=key,
        bucket_key_enabled=key is not None,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=versioned,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=logs_prefix or None,
        lifecycle_rules=rules,
        removal_policy=RemovalPolicy.RETAIN,
    )


def statement(actions: list[str], resources: list[str], **conditions: dict) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions or None)
