"""Stack outputs become platform settings that edp.config accepts, and bundle variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edp.config import get_config
from edp.lake import STREAM_EVENTS_QUERY, checkpoint_path
from edp_infra import outputs

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
OUTPUTS = {
    "edp-lake": {
        "LakeBucketName": "acme-edp-lake", "ArtifactsBucketName": "acme-edp-artifacts",
        "LakeRoot": "s3://acme-edp-lake/lake", "AthenaWorkgroupName": "edp-adhoc", "GlueDatabaseName": "edp_lake",
        "LakeKeyArn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1",
    },
    "edp-stream": {"StreamName": "edp-events", "StreamArn": "arn", "ShardCount": "4"},
    "edp-alerts": {"AlertTopicArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:edp-platform-alerts", "SlackDeadLetterQueueUrl": "u"},
    "edp-access": {
        "AirflowRoleArn": f"arn:aws:iam::{ACCOUNT}:role/edp-airflow-workers", "GlueRoleName": "edp-glue-role",
        "DatabricksInstanceProfileArn": f"arn:aws:iam::{ACCOUNT}:instance-profile/edp-databricks-jobs",
    },
    "edp-warehouse": {
        "RedshiftWorkgroupName": "edp-analytics", "RedshiftCopyRoleArn": f"arn:aws:iam::{ACCOUNT}:role/edp-redshift-copy",
        "RedshiftEndpoint": "edp-analytics.123456789012.eu-west-1.redshift-serverless.amazonaws.com",
    },
}  # fmt: skip


def test_outputs_become_platform_settings_the_config_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in outputs.platform_environment(OUTPUTS).items():
        monkeypatch.setenv(key, value)
    config = get_config()  # an unknown setting name would raise here
    assert config.env.value == "aws"
    assert config.aws_account_id == ACCOUNT
    assert config.lake.root == "s3://acme-edp-lake/lake"
    assert config.stream.region == "eu-west-1" and config.stream.shard_count == 4
    assert config.alerts_topic_arn == OUTPUTS["edp-alerts"]["AlertTopicArn"]
    assert config.redshift.copy_iam_role_arn.endswith(":role/edp-redshift-copy")


def test_bundle_variables_carry_the_instance_profile_and_the_lake() -> None:
    variables = outputs.bundle_variables(OUTPUTS)
    assert variables["instance_profile_arn"].endswith(":instance-profile/edp-databricks-jobs")
    assert variables["checkpoint_location"] == checkpoint_path(STREAM_EVENTS_QUERY, "s3://acme-edp-lake/lake")
    assert variables["region"] == "eu-west-1"


def test_a_missing_stack_is_named(tmp_path: Path) -> None:
    partial = {k: v for k, v in OUTPUTS.items() if k != "edp-warehouse"}
    with pytest.raises(KeyError, match="edp-warehouse"):
        outputs.platform_environment(partial)
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(OUTPUTS))
    assert outputs.main([str(path)]) == 0
