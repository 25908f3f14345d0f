"""A Lambda function from its descriptor (``include/lambda/<fn>/lambda.toml``) and its built zip."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from edp_infra.nag import suppress
from edp_infra.settings import REPO_ROOT, InfraSettings
from edp_infra.stacks.common import log_group
from tools.build_lambda import FUNCTIONS_DIR, load_spec

RUNTIMES = {"python3.12": lambda_.Runtime.PYTHON_3_12, "python3.13": lambda_.Runtime.PYTHON_3_13}
ARCHITECTURES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}


def platform_function(
    scope: Construct,
    id_: str,
    settings: InfraSettings,
    *,
    function: str,
    memory_mb: int,
    timeout: Duration,
    environment: dict[str, str],
    reserved_concurrency: int | None,
    **kwargs,
) -> tuple[lambda_.Function, iam.Role, logs.LogGroup]:
    """The function with its own role (logs to its own group only) and a log group with retention."""
    spec = load_spec(REPO_ROOT / FUNCTIONS_DIR / function)
    name = f"{settings.prefix}-{function.replace('_', '-')}"
    group = log_group(scope, f"{id_}Logs", settings, f"/aws/lambda/{name}")
    role = iam.Role(
        scope,
        f"{id_}Role",
        role_name=f"{name}-function",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Runs the {function} Lambda; only what its handler calls",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[f"{group.log_group_arn}:*"]
        )
    )
    fn = lambda_.Function(
        scope,
        id_,
        function_name=name,
        description=f"Event data platform: {function} ({spec.handler})",
        runtime=RUNTIMES[spec.runtime],
        architecture=ARCHITECTURES[spec.architecture],
        handler=spec.handler,
        code=lambda_.Code.from_asset(str(settings.lambda_zip(function))),
        memory_size=memory_mb,
        timeout=timeout,
        role=role,
        log_group=group,
        reserved_concurrent_executions=reserved_concurrency,
        environment={
            "PLATFORM_ENV": "aws",
            "PLATFORM__STREAM__REGION": settings.platform.stream.region,  # the Region of every client
            "POWERTOOLS_SERVICE_NAME": name,
            **environment,
        },
        tracing=lambda_.Tracing.ACTIVE,
        **kwargs,
    )
    suppress(
        fn,
        [
            (
                "AwsSolutions-L1",
                f"The runtime is the one {function}/lambda.toml names; the zip's wheels are built for it.",
            )
        ],
    )
    return fn, role, group
