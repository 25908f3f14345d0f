"""The synthesized core stacks create in moto's CloudFormation: stream, buckets, topic, queue, secrets, roles.

moto implements CloudFormation for some resource types only. This test creates the lake, stream,
secrets, alerts and access stacks from their synthesized templates, in dependency order, with
cross-stack exports resolved by moto. What moto's CloudFormation cannot create is adapted, and each
adaptation is named here:

* ``AWS::SecretsManager::Secret`` has no moto CloudFormation model: the secret is created through the
  Secrets Manager API (same name) and references to it resolve to that ARN;
* policies, alarms, subscriptions, the Glue database and the Athena workgroup (no models) are left out:
  ``test_cdk_app.py`` asserts their properties on the templates;
* moto's KMS model reads tags as ``TagKey``/``TagValue`` (CloudFormation says ``Key``/``Value``);
* the Redshift Serverless stack (no models) is replaced by a stack exporting the two values the access
  stack imports from it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.infra

REGION = "us-east-1"
ADAPTED = {"AWS::SecretsManager::Secret"}
LEFT_OUT = {
    "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy", "AWS::CloudWatch::Alarm",
    "AWS::SNS::Subscription", "AWS::Lambda::EventInvokeConfig", "AWS::Glue::Database", "AWS::Athena::WorkGroup",
}  # fmt: skip
CORE = ("lake", "stream", "secrets", "alerts", "access")


def _resolve(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in values:
            return values[node["Ref"]]
        if set(node) == {"Fn::GetAtt"} and node["Fn::GetAtt"][0] in values:
            return values[node["Fn::GetAtt"][0]]
        return {k: _resolve(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, values) for v in node]
    return node


def moto_template(template: dict[str, Any], secrets_client: Any) -> dict[str, Any]:
    """The template with the adaptations the module docstring lists."""
    template = json.loads(json.dumps(template))
    template.pop("Rules", None)
    values: dict[str, str] = {}
    dropped: set[str] = set()
    for logical_id, resource in list(template["Resources"].items()):
        kind = resource["Type"]
        if kind in ADAPTED:
            name = resource["Properties"]["Name"]
            values[logical_id] = secrets_client.create_secret(Name=name, SecretString="{}")["ARN"]
        if kind in ADAPTED | LEFT_OUT:
            dropped.add(logical_id)
            del template["Resources"][logical_id]
        elif kind == "AWS::KMS::Key":
            tags = resource["Properties"].get("Tags", [])
            resource["Properties"]["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in tags]
    for resource in template["Resources"].values():
        if "DependsOn" in resource:
            resource["DependsOn"] = [d for d in _as_list(resource["DependsOn"]) if d not in dropped]
    return _resolve(template, values)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def warehouse_stand_in(synthesized) -> dict[str, Any]:
    """Outputs named like the warehouse stack's exports the access stack imports."""
    exports = sorted(_imports(json.dumps(synthesized.template_json("access")), "edp-warehouse"))
    return {
        "Resources": {
            "StandIn": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "edp-warehouse-stand-in"},
            }
        },
        "Outputs": {
            f"Export{i}": {
                "Value": f"arn:aws:redshift-serverless:{REGION}:123456789012:workgroup/stand-in",
                "Export": {"Name": name},
            }
            for i, name in enumerate(exports)
        },
    }


def _imports(text: str, stack: str) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Fn::ImportValue" in node and str(node["Fn::ImportValue"]).startswith(f"{stack}:"):
                found.add(node["Fn::ImportValue"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(text))
    return found


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    from moto import mock_aws

    with mock_aws():
        yield


def test_core_stacks_create_the_stream_buckets_topic_queue_secrets_and_roles(synthesized, aws) -> None:
    import boto3

    config = synthesized.settings.platform
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String"
    )  # what `cdk bootstrap` leaves, read by the templates' BootstrapVersion parameter
    account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    assets = f"cdk-hnb659fds-assets-{account}-{REGION}"
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=assets)
    for asset in synthesized.outdir.glob("asset.*.zip"):
        s3.put_object(Bucket=assets, Key=asset.name.removeprefix("asset."), Body=asset.read_bytes())

    cloudformation = boto3.client("cloudformation", region_name=REGION)
    secrets = boto3.client("secretsmanager", region_name=REGION)
    cloudformation.create_stack(
        StackName="edp-warehouse", TemplateBody=json.dumps(warehouse_stand_in(synthesized))
    )
    for concern in CORE:
        name = synthesized.stacks[concern].stack_name
        body = moto_template(synthesized.template_json(concern), secrets)
        cloudformation.create_stack(
            StackName=name, TemplateBody=json.dumps(body), Capabilities=["CAPABILITY_NAMED_IAM"]
        )
        status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        assert status == "CREATE_COMPLETE", (name, status)

    stream = boto3.client("kinesis", region_name=REGION).describe_stream_summary(
        StreamName=config.stream.name
    )
    assert stream["StreamDescriptionSummary"]["OpenShardCount"] == synthesized.settings.capacity.shards
    # (moto's Kinesis model ignores StreamEncryption; test_cdk_app.py asserts it on the template)
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {config.data_bucket, config.artifacts_bucket, f"{config.data_bucket}-access-logs"} <= buckets
    encryption = s3.get_bucket_encryption(Bucket=config.data_bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    topics = [t["TopicArn"] for t in boto3.client("sns", region_name=REGION).list_topics()["Topics"]]
    assert any(arn.endswith(f":{config.sns.alerts_topic}") for arn in topics)
    queues = boto3.client("sqs", region_name=REGION).list_queues()["QueueUrls"]
    assert any(url.endswith("/edp-sns-to-slack-dlq") for url in queues)
    names = {s["Name"] for s in secrets.list_secrets()["SecretList"]}
    assert {
        "edp/ingest/api-keys",
        "edp/ingest/ip-salt",
        "edp/stream/pii-salt",
        "edp/alerts/slack-webhook",
    } <= names
    roles = {r["RoleName"] for r in boto3.client("iam", region_name=REGION).list_roles()["Roles"]}
    assert {
        config.glue.iam_role_name,
        "edp-databricks-jobs",
        "edp-airflow-workers",
        "edp-sns-to-slack-function",
    } <= roles
    function = boto3.client("lambda", region_name=REGION).get_function(FunctionName="edp-sns-to-slack")
    assert function["Configuration"]["Handler"] == "edp.alerting.slack.handler.lambda_handler"
    assert function["Configuration"]["Runtime"] == "python3.12"
    # (moto's Lambda model drops DeadLetterConfig; test_cdk_app.py asserts it on the template)
