"""One configuration object for the CDK app: names from :mod:`edp.config`, sizes from :mod:`edp_infra.sizing`.

The platform and its infrastructure read the same names: the app builds ``edp.config.get_config()`` for
``PLATFORM_ENV=aws`` (with any ``PLATFORM__*`` overrides in the environment), so a bucket or stream
renamed there is renamed in the templates too. Deployment-only choices (the target rate, who may assume
the Airflow role, the Redshift subnets) come from CDK context (``-c key=value`` or ``cdk.json``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edp.config import PlatformConfig, get_config
from edp.config.settings import ENV_VAR, RESOURCE_PREFIX, Environment
from edp_infra.sizing import CapacityPlan, TargetRate, plan

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TARGET_EVENTS_PER_S = 1_000.0
INGEST_APPS = ("web", "ios", "android")  # one API key per app; the key's name carries the app


def aws_platform_config() -> PlatformConfig:
    """The platform configuration as the deployed platform reads it (``PLATFORM_ENV=aws``)."""
    previous = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = Environment.AWS.value
    try:
        return get_config()
    finally:
        if previous is None:
            del os.environ[ENV_VAR]
        else:
            os.environ[ENV_VAR] = previous


@dataclasses.dataclass(frozen=True)
class InfraSettings:
    """Everything the stacks need; built once per app by :meth:`from_context`.

    :param platform: the aws platform configuration (every resource name).
    :param capacity: the sizing plan for the target rate.
    :param lambda_dir: where ``tools/build_lambda.py`` wrote ``<function>.zip``.
    :param openapi_path: the ingest API's OpenAPI document (the API Gateway body).
    :param airflow_trusted_role_arn: a role allowed to assume the Airflow worker role (Astro's workload
        identity); empty means MWAA's service principals.
    :param redshift_subnet_ids: subnets of the Redshift workgroup; empty means the default VPC's.
    :param runbook_base_url: prefix of runbook links in Slack messages.
    :param quarantine_retention_days: how long rejected ingest requests are kept.
    :param athena_results_retention_days: how long Athena query results are kept.
    :param stream_retention_hours: how long Kinesis keeps records (the replay window of a restart).
    """

    platform: PlatformConfig
    capacity: CapacityPlan
    lambda_dir: Path = REPO_ROOT / "build" / "lambda"
    openapi_path: Path = REPO_ROOT / "include" / "lambda" / "ingest" / "openapi.yaml"
    airflow_trusted_role_arn: str = ""
    redshift_subnet_ids: tuple[str, ...] = ()
    runbook_base_url: str = ""
    quarantine_retention_days: int = 90
    athena_results_retention_days: int = 30
    stream_retention_hours: int = 48
    log_retention_days: int = 90

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> InfraSettings:
        """Build from CDK context values (strings on the command line, typed values in cdk.json)."""
        target = TargetRate(
            events_per_s=float(context.get("target_events_per_s") or DEFAULT_TARGET_EVENTS_PER_S),
            mean_event_bytes=int(context.get("mean_event_bytes") or 1_000),
            events_per_request=int(context.get("events_per_request") or 25),
        )
        subnets = context.get("redshift_subnet_ids") or ()
        if isinstance(subnets, str):
            subnets = tuple(s.strip() for s in subnets.split(",") if s.strip())
        kwargs: dict[str, Any] = {
            "airflow_trusted_role_arn": str(context.get("airflow_trusted_role_arn") or ""),
            "redshift_subnet_ids": tuple(subnets),
            "runbook_base_url": str(context.get("runbook_base_url") or ""),
        }
        if lambda_dir := context.get("lambda_dir"):
            kwargs["lambda_dir"] = Path(str(lambda_dir)).resolve()
        return cls(platform=aws_platform_config(), capacity=plan(target), **kwargs)

    # ---- names every stack agrees on -----------------------------------------------------------------
    @property
    def prefix(self) -> str:
        return RESOURCE_PREFIX

    def stack_name(self, concern: str) -> str:
        return f"{RESOURCE_PREFIX}-{concern}"

    def secret_name(self, name: str) -> str:
        return f"{RESOURCE_PREFIX}/{name}"

    @property
    def streaming_role_name(self) -> str:
        return f"{RESOURCE_PREFIX}-databricks-jobs"

    @property
    def airflow_role_name(self) -> str:
        return f"{RESOURCE_PREFIX}-airflow-workers"

    @property
    def redshift_role_name(self) -> str:
        return f"{RESOURCE_PREFIX}-redshift-copy"

    @property
    def redshift_namespace(self) -> str:
        return self.platform.redshift.workgroup

    def lambda_zip(self, function: str) -> Path:
        path = self.lambda_dir / f"{function}.zip"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: build it first with `make lambdas` (make synth does)"
            )
        return path
