"""The ingest API: the REST API imported from the OpenAPI contract, its stage, usage plan and API keys,
and the ingest Lambda with its role."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from edp.ingest.settings import API_KEYS_VAR, IP_SALT_VAR, SECRET_SUFFIX
from edp_infra.nag import suppress
from edp_infra.openapi import load_api_definition, usage_plan
from edp_infra.settings import INGEST_APPS, InfraSettings
from edp_infra.stacks.common import log_group
from edp_infra.stacks.functions import platform_function
from edp_infra.stacks.lake import LakeStack
from edp_infra.stacks.secrets import SecretsStack
from edp_infra.stacks.stream import StreamStack

STAGE = "prod"
INGEST_TIMEOUT = Duration.seconds(10)  # the integration's timeoutInMillis in openapi.yaml


class IngestStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: InfraSettings,
        lake: LakeStack,
        stream: StreamStack,
        secrets: SecretsStack,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        config = settings.platform
        capacity = settings.capacity
        self.function, role, _ = platform_function(
            self,
            "Ingest",
            settings,
            function="ingest",
            memory_mb=capacity.lambda_memory_mb,
            timeout=INGEST_TIMEOUT,
            reserved_concurrency=capacity.lambda_reserved_concurrency,
            environment={
                "PLATFORM__STREAM__NAME": config.stream.name,
                "PLATFORM__STREAM__REGION": config.stream.region,
                "PLATFORM__LAKE__ROOT": config.lake.root,
                API_KEYS_VAR + SECRET_SUFFIX: secrets.api_keys.secret_arn,
                IP_SALT_VAR + SECRET_SUFFIX: secrets.ip_salt.secret_arn,
            },
        )
        quarantine_prefix = config.lake.quarantine.removeprefix(f"s3://{config.data_bucket}/")
        for actions, resources in (
            (["kinesis:PutRecords", "kinesis:PutRecord"], [stream.stream.stream_arn]),
            (["kms:GenerateDataKey"], [lake.key.key_arn]),
            (["s3:PutObject"], [lake.lake_bucket.arn_for_objects(f"{quarantine_prefix}/ingest/*")]),
            (["secretsmanager:GetSecretValue"], [secrets.api_keys.secret_arn, secrets.ip_salt.secret_arn]),
            (["kms:Decrypt"], [secrets.key.key_arn]),
        ):
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        suppress(
            role,
            [
                (
                    "AwsSolutions-IAM5",
                    "Wildcards are object keys below the ingest quarantine prefix and this function's log streams.",
                )
            ],
        )

        definition = load_api_definition(
            settings.openapi_path,
            {"aws_region": self.region, "ingest_lambda_arn": self.function.function_arn},
        )
        access_logs = log_group(self, "ApiAccessLogs", settings, f"/{settings.prefix}/apigateway/ingest")
        self.api = apigw.SpecRestApi(
            self,
            "IngestApi",
            rest_api_name=f"{settings.prefix}-ingest",
            api_definition=apigw.ApiDefinition.from_inline(definition),
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=capacity.api_rate_limit,
                throttling_burst_limit=capacity.api_burst_limit,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # request bodies carry user ids: never in logs
                metrics_enabled=True,
                tracing_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=False, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=False,
                ),
            ),
        )  # fmt: skip
        self.function.add_permission(
            "InvokeFromApi",
            principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
            source_arn=self.api.arn_for_execute_api("POST", "/v1/events", STAGE),
        )
        plan_body = usage_plan(definition)
        throttle = plan_body.get("throttle") or {}
        self.usage_plan = self.api.add_usage_plan(
            "AppsUsagePlan",
            name=plan_body["name"],
            description=plan_body.get("description"),
            throttle=apigw.ThrottleSettings(
                rate_limit=throttle["rateLimit"], burst_limit=throttle["burstLimit"]
            ),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        )
        self.api_keys = []
        for app in INGEST_APPS:
            key = apigw.ApiKey(
                self, f"ApiKey{app.title()}", api_key_name=f"{settings.prefix}-ingest-{app}",
                description=f"API key of the {app} app (maps to app '{app}' in the ingest/api-keys secret)",
            )  # fmt: skip
            self.usage_plan.add_api_key(key)
            self.api_keys.append(key)

        suppress(
            self.api,
            [
                ("AwsSolutions-APIG2", "Request validation is in the OpenAPI body: a params-only validator, since the Lambda answers per-event 207s."),
                ("AwsSolutions-APIG3", "WAF is optional: per-app API keys, usage-plan and stage throttles bound abuse; add a WebACL where required."),
                ("AwsSolutions-APIG4", "Authorization is the per-app API key with a usage plan; the Lambda maps each key to its app."),
                ("AwsSolutions-COG4", "Apps authenticate with API keys and usage plans, not end-user Cognito identities."),
                ("AwsSolutions-IAM4", "API Gateway's account-level CloudWatch role uses the AWS managed push-to-logs policy."),
            ],
        )  # fmt: skip
        CfnOutput(self, "IngestApiUrl", value=self.api.url_for_path("/v1/events"))
        CfnOutput(self, "IngestApiBaseUrl", value=self.api.url)
        CfnOutput(self, "IngestApiId", value=self.api.rest_api_id)
        CfnOutput(self, "IngestFunctionName", value=self.function.function_name)
