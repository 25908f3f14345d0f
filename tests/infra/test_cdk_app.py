"""The synthesized CloudFormation: secure defaults, least privilege, alarms and API from their one source."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from aws_cdk.assertions import Annotations, Match

from edp.monitoring.alarms import platform_alarms
from edp_infra.app import CONCERNS

pytestmark = pytest.mark.infra

ROOT_OPENAPI = "include/lambda/ingest/openapi.yaml"


def resources(synthesized, concern: str, kind: str) -> dict[str, dict[str, Any]]:
    template = synthesized.template_json(concern)
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def all_resources(synthesized, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(c, k, v) for c in CONCERNS for k, v in resources(synthesized, c, kind).items()]


def test_synth_writes_one_template_per_concern(synthesized) -> None:
    for concern in CONCERNS:
        assert synthesized.template_path(concern).is_file(), concern


def test_cfn_lint_reports_no_errors_on_any_template(synthesized) -> None:
    from cfnlint.api import lint_all

    for concern in CONCERNS:
        matches = lint_all(synthesized.template_path(concern).read_text(encoding="utf-8"))
        errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
        assert errors == [], f"{concern}: {errors}"


def test_cdk_nag_aws_solutions_reports_no_unsuppressed_error_or_warning(synthesized) -> None:
    for concern, stack in synthesized.stacks.items():
        annotations = Annotations.from_stack(stack)
        pattern = Match.string_like_regexp("AwsSolutions-.*")
        found = annotations.find_error("*", pattern) + annotations.find_warning("*", pattern)
        assert found == [], f"{concern}: {[f.entry.data for f in found]}"


def test_every_nag_suppression_carries_a_written_reason(synthesized) -> None:
    seen = 0
    for concern in CONCERNS:
        for name, resource in synthesized.template_json(concern)["Resources"].items():
            for rule in (resource.get("Metadata") or {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                seen += 1
                assert len(rule["reason"].split()) >= 5, f"{concern}/{name}: {rule}"
    assert seen >= 10  # the suppressions exist, so the check above checked something


def test_every_bucket_is_encrypted_private_and_tls_only(synthesized) -> None:
    buckets = all_resources(synthesized, "AWS::S3::Bucket")
    assert len(buckets) == 3
    for concern, name, bucket in buckets:
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], name
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
        }  # fmt: skip
        policies = [
            p for p in resources(synthesized, concern, "AWS::S3::BucketPolicy").values()
            if p["Properties"]["Bucket"] == {"Ref": name}
        ]  # fmt: skip
        denies = [
            s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny" and "aws:SecureTransport" in str(s.get("Condition"))
        ]  # fmt: skip
        assert denies, f"{name} does not deny plain HTTP"


def test_lake_and_artifacts_use_the_customer_managed_lake_key(templates, synthesized) -> None:
    config = synthesized.settings.platform
    for bucket_name in (config.data_bucket, config.artifacts_bucket):
        templates["lake"].has_resource_properties(
            "AWS::S3::Bucket",
            {
                "BucketName": bucket_name,
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        Match.object_like(
                            {
                                "ServerSideEncryptionByDefault": {
                                    "SSEAlgorithm": "aws:kms",
                                    "KMSMasterKeyID": Match.any_value(),
                                }
                            }
                        )
                    ]
                },
            },
        )
    templates["lake"].has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_lifecycle_rules_expire_the_ingest_quarantine_and_athena_results(templates) -> None:
    templates["lake"].has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Id": "expire-ingest-quarantine",
                                "Prefix": "lake/quarantine/ingest/",
                                "ExpirationInDays": 90,
                            }
                        )
                    ]
                )
            }
        },
    )
    templates["lake"].has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"Id": "expire-athena-results", "Prefix": "athena-results/"})]
                )
            }
        },
    )


def test_stream_topic_queue_secrets_and_warehouse_are_encrypted(templates) -> None:
    templates["stream"].has_resource_properties(
        "AWS::Kinesis::Stream", {"StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}}
    )
    templates["alerts"].has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    templates["alerts"].has_resource_properties("AWS::SQS::Queue", {"KmsMasterKeyId": Match.any_value()})
    for secret in templates["secrets"].find_resources("AWS::SecretsManager::Secret").values():
        assert "KmsKeyId" in secret["Properties"]
    templates["warehouse"].has_resource_properties(
        "AWS::RedshiftServerless::Namespace", {"KmsKeyId": Match.any_value(), "ManageAdminPassword": True}
    )
    templates["warehouse"].has_resource_properties(
        "AWS::RedshiftServerless::Workgroup", {"PubliclyAccessible": False}
    )


def test_no_secret_value_is_in_any_template(synthesized) -> None:
    for _, name, secret in all_resources(synthesized, "AWS::SecretsManager::Secret"):
        value = secret["Properties"].get("SecretString")
        assert value in (None, "{}"), name  # generated, or the empty API-key map


def _statements(synthesized) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for concern in CONCERNS:
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for name, policy in resources(synthesized, concern, kind).items():
                found += [
                    (f"{concern}/{name}", s) for s in policy["Properties"]["PolicyDocument"]["Statement"]
                ]
        for name, role in resources(synthesized, concern, "AWS::IAM::Role").items():
            for inline in role["Properties"].get("Policies", []):
                found += [(f"{concern}/{name}", s) for s in inline["PolicyDocument"]["Statement"]]
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_policy_allows_every_action_on_every_resource(synthesized) -> None:
    statements = _statements(synthesized)
    assert len(statements) > 30
    for where, statement in statements:
        actions = _as_list(statement.get("Action", []))
        resources_ = _as_list(statement.get("Resource", []))
        assert "*" not in actions, f"{where}: Action '*'"
        if "*" in resources_:
            assert not any(a.endswith(":*") for a in actions), f"{where}: {actions} on '*'"


def test_star_resources_are_only_for_calls_without_resource_level_permissions(synthesized) -> None:
    allowed = {
        "cloudwatch:PutMetricData", "cloudwatch:DescribeAlarms", "logs:DescribeLogGroups",
        "redshift-data:DescribeStatement", "redshift-data:GetStatementResult", "redshift-data:CancelStatement",
        # CDK's own: X-Ray tracing of the Lambdas
        "xray:PutTraceSegments", "xray:PutTelemetryRecords",
    }  # fmt: skip
    for where, statement in _statements(synthesized):
        if "*" in _as_list(statement.get("Resource", [])):
            assert set(_as_list(statement["Action"])) <= allowed, f"{where}: {statement['Action']}"


def test_metric_writes_are_limited_to_the_platform_namespaces(synthesized) -> None:
    for where, statement in _statements(synthesized):
        if "cloudwatch:PutMetricData" in _as_list(statement.get("Action", [])):
            assert "cloudwatch:namespace" in str(statement.get("Condition")), where


def test_sns_to_slack_has_a_dead_letter_queue_and_one_poster(templates) -> None:
    templates["alerts"].has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "edp.alerting.slack.handler.lambda_handler",
            "ReservedConcurrentExecutions": 1,
            "DeadLetterConfig": {
                "TargetArn": {"Fn::GetAtt": [Match.string_like_regexp("SlackDeadLetters.*"), "Arn"]}
            },
        },
    )
    templates["alerts"].has_resource_properties("AWS::SNS::Subscription", {"Protocol": "lambda"})


def test_alarms_are_the_monitoring_definitions_wired_to_the_alert_topic(templates, synthesized) -> None:
    specs = {spec.name: spec.request() for spec in platform_alarms(synthesized.settings.platform)}
    alarms = templates["alerts"].find_resources("AWS::CloudWatch::Alarm")
    assert {a["Properties"]["AlarmName"] for a in alarms.values()} == set(specs)
    topic = next(iter(templates["alerts"].find_resources("AWS::SNS::Topic")))
    for alarm in alarms.values():
        props = alarm["Properties"]
        request = specs[props["AlarmName"]]
        assert props["AlarmActions"] == [{"Ref": topic}] and props["OKActions"] == [{"Ref": topic}]
        for field in (
            "MetricName",
            "Namespace",
            "Threshold",
            "ComparisonOperator",
            "TreatMissingData",
            "Period",
        ):
            assert props[field] == request[field], (props["AlarmName"], field)


def test_alerts_key_lets_cloudwatch_publish_to_the_encrypted_topic(templates) -> None:
    key = next(iter(templates["alerts"].find_resources("AWS::KMS::Key").values()))
    principals = str(key["Properties"]["KeyPolicy"])
    assert "cloudwatch.amazonaws.com" in principals


def test_rest_api_is_the_openapi_contract_with_placeholders_filled(templates, synthesized) -> None:
    contract = yaml.safe_load((synthesized.settings.openapi_path).read_text(encoding="utf-8"))
    api = next(iter(templates["ingest"].find_resources("AWS::ApiGateway::RestApi").values()))
    body = api["Properties"]["Body"]
    assert set(body["paths"]) == set(contract["paths"])
    uri = body["paths"]["/v1/events"]["post"]["x-amazon-apigateway-integration"]["uri"]
    assert "${" not in str(uri) or "Fn::Join" in str(uri)  # filled with the Region and the function ARN
    assert not re.search(r"\$\{(aws_region|ingest_lambda_arn)\}", str(body))


def test_stage_throttle_usage_plan_and_api_keys_follow_plan_and_contract(templates, synthesized) -> None:
    capacity = synthesized.settings.capacity
    contract = yaml.safe_load(synthesized.settings.openapi_path.read_text(encoding="utf-8"))[
        "x-edp-usage-plan"
    ]
    templates["ingest"].has_resource_properties(
        "AWS::ApiGateway::Stage",
        {"MethodSettings": Match.array_with([Match.object_like({"ThrottlingRateLimit": capacity.api_rate_limit, "ThrottlingBurstLimit": capacity.api_burst_limit, "DataTraceEnabled": False})]),
         "AccessLogSetting": Match.any_value()},
    )  # fmt: skip
    templates["ingest"].has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "UsagePlanName": contract["name"],
            "Throttle": {
                "RateLimit": contract["throttle"]["rateLimit"],
                "BurstLimit": contract["throttle"]["burstLimit"],
            },
        },
    )
    templates["ingest"].resource_count_is("AWS::ApiGateway::ApiKey", 3)
    templates["ingest"].resource_count_is("AWS::ApiGateway::UsagePlanKey", 3)
    templates["ingest"].has_resource_properties(
        "AWS::Lambda::Permission",
        {"Principal": "apigateway.amazonaws.com", "Action": "lambda:InvokeFunction"},
    )


def test_names_and_sizes_come_from_the_platform_config_and_the_plan(templates, synthesized) -> None:
    config, capacity = synthesized.settings.platform, synthesized.settings.capacity
    templates["stream"].has_resource_properties(
        "AWS::Kinesis::Stream", {"Name": config.stream.name, "ShardCount": capacity.shards}
    )
    templates["alerts"].has_resource_properties("AWS::SNS::Topic", {"TopicName": config.sns.alerts_topic})
    templates["lake"].has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": config.athena.workgroup,
            "WorkGroupConfiguration": Match.object_like(
                {"EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"}}
            ),
        },
    )
    templates["lake"].has_resource_properties(
        "AWS::Glue::Database", {"DatabaseInput": Match.object_like({"Name": config.athena.database})}
    )
    templates["access"].has_resource_properties("AWS::IAM::Role", {"RoleName": config.glue.iam_role_name})
    templates["warehouse"].has_resource_properties(
        "AWS::RedshiftServerless::Workgroup",
        {"WorkgroupName": config.redshift.workgroup, "BaseCapacity": capacity.redshift_base_rpu},
    )
    templates["ingest"].has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "edp.ingest.handler.lambda_handler", "ReservedConcurrentExecutions": capacity.lambda_reserved_concurrency,
         "Environment": {"Variables": Match.object_like({"PLATFORM_ENV": "aws", "PLATFORM__STREAM__NAME": config.stream.name, "PLATFORM__LAKE__ROOT": config.lake.root})}},
    )  # fmt: skip


def test_databricks_instance_profile_reads_the_stream_and_writes_the_lake(templates) -> None:
    templates["access"].resource_count_is("AWS::IAM::InstanceProfile", 1)
    policy = str(templates["access"].find_resources("AWS::IAM::Policy"))
    for action in (
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "s3:PutObject",
        "iam:PassRole",
        "glue:StartJobRun",
    ):
        assert action in policy


def test_synth_reports_no_error_and_catches_an_unsuppressed_finding(synthesized, tmp_path) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    from edp_infra.app import new_app, synth_errors
    from edp_infra.nag import apply_aws_solutions

    assert synth_errors(synthesized.app.synth()) == []
    probe = new_app(outdir=str(tmp_path))
    s3.Bucket(cdk.Stack(probe, "Probe"), "Plain")  # no logging, no TLS-only policy: AwsSolutions errors
    apply_aws_solutions(probe, reports=False)
    assert any("AwsSolutions-S" in error for error in synth_errors(probe.synth()))


def test_the_outputs_the_platform_config_reads_exist(synthesized) -> None:
    from edp_infra import outputs

    produced = {
        synthesized.stacks[c].stack_name: dict.fromkeys(synthesized.template_json(c).get("Outputs", {}), "x")
        for c in CONCERNS
    }
    produced["edp-alerts"]["AlertTopicArn"] = "arn:aws:sns:us-east-1:123456789012:edp-platform-alerts"
    assert outputs.platform_environment(produced)["PLATFORM__AWS_ACCOUNT_ID"] == "123456789012"
    assert outputs.bundle_variables(produced)["instance_profile_arn"] == "x"


def test_a_higher_target_rate_deploys_more_shards_and_lambdas(tmp_path, lambda_zips) -> None:
    import dataclasses

    from aws_cdk.assertions import Template

    from edp_infra.app import new_app
    from edp_infra.settings import InfraSettings
    from edp_infra.stacks.stream import StreamStack

    settings = dataclasses.replace(
        InfraSettings.from_context({"target_events_per_s": 50_000}), lambda_dir=lambda_zips
    )
    stack = StreamStack(new_app(outdir=str(tmp_path)), "edp-stream", settings=settings)
    shards = Template.from_stack(stack).find_resources("AWS::Kinesis::Stream")
    assert next(iter(shards.values()))["Properties"]["ShardCount"] == settings.capacity.shards > 2
