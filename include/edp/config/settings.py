"""Typed platform configuration.

One environment switch (``PLATFORM_ENV=local|aws``) and the names and defaults of each environment;
which resource serves each concern is :mod:`edp.resources`. Every field can be overridden without code
changes:

* environment variables ``PLATFORM__<SECTION>__<FIELD>``, e.g. ``PLATFORM__STREAM__NAME=events``;
* a nested mapping passed to :func:`get_config` (DAG tasks pass the ``platform_overrides``
  Airflow Variable through it at run time, never at parse time).

Standard library only: DAG files import this at top level, so it must stay cheap.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import types
import typing
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

ENV_VAR = "PLATFORM_ENV"
OVERRIDE_PREFIX = "PLATFORM__"
PROJECT_ROOT_VAR = "PLATFORM_PROJECT_ROOT"
RESOURCE_PREFIX = "edp"  # event data platform; prefixes every AWS resource name


class Environment(enum.StrEnum):
    LOCAL = "local"
    AWS = "aws"


def get_env() -> Environment:
    """Return the active environment; ``local`` unless ``PLATFORM_ENV`` says otherwise."""
    raw = os.environ.get(ENV_VAR, Environment.LOCAL.value).strip().lower()
    try:
        return Environment(raw)
    except ValueError:
        allowed = ", ".join(e.value for e in Environment)
        raise ValueError(f"{ENV_VAR}={raw!r} is not one of: {allowed}") from None


def project_root() -> Path:
    """The repository (Astro project) root: ``/usr/local/airflow`` in the image, the clone locally."""
    if explicit := os.environ.get(PROJECT_ROOT_VAR):
        return Path(explicit).resolve()
    return Path(__file__).resolve().parents[3]


@dataclasses.dataclass(frozen=True)
class ConnectionIds:
    """Airflow connection ids. Their contents come from ``AIRFLOW_CONN_*`` variables or a secrets backend."""

    aws: str = "aws_default"
    databricks: str = "databricks_default"
    slack: str = "slack_alerts"
    redshift: str = "redshift_default"
    athena: str = "aws_default"


@dataclasses.dataclass(frozen=True)
class LocalPorts:
    """Loopback ports of the local stand-ins. ``make run`` refuses to start if one is taken."""

    airflow: int = 8080
    airflow_worker_logs: int = 8793
    airflow_triggerer_logs: int = 8794
    gateway: int = 8090
    aws: int = 4566  # moto server: Kinesis and SNS endpoints
    slack: int = 8094
    alert_bridge: int = 8096  # SNS HTTP subscriber invoking the sns_to_slack handler


@dataclasses.dataclass(frozen=True)
class StreamConfig:
    name: str = f"{RESOURCE_PREFIX}-events"
    shard_count: int = 2
    region: str = "us-east-1"
    endpoint_url: str = ""  # empty means the real AWS endpoint


@dataclasses.dataclass(frozen=True)
class LakeConfig:
    """Medallion lake root and the fixed layout beneath it."""

    root: str = ""

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    @property
    def bronze(self) -> str:
        return self.path("bronze")

    @property
    def silver(self) -> str:
        return self.path("silver")

    @property
    def gold(self) -> str:
        return self.path("gold")

    @property
    def quarantine(self) -> str:
        return self.path("quarantine")

    @property
    def checkpoints(self) -> str:
        return self.path("_checkpoints")


@dataclasses.dataclass(frozen=True)
class GlueConfig:
    compaction_job: str = f"{RESOURCE_PREFIX}-compaction"
    gold_job: str = f"{RESOURCE_PREFIX}-gold-build"
    iam_role_name: str = f"{RESOURCE_PREFIX}-glue-role"
    scripts_prefix: str = "glue-scripts"


@dataclasses.dataclass(frozen=True)
class DatabricksConfig:
    streaming_job: str = f"{RESOURCE_PREFIX}-streaming-ingest"
    compaction_job: str = f"{RESOURCE_PREFIX}-compaction"
    gold_job: str = f"{RESOURCE_PREFIX}-gold-build"


@dataclasses.dataclass(frozen=True)
class RedshiftConfig:
    workgroup: str = f"{RESOURCE_PREFIX}-analytics"
    database: str = "analytics"
    schema: str = "gold"
    copy_iam_role_arn: str = ""


@dataclasses.dataclass(frozen=True)
class AthenaConfig:
    workgroup: str = f"{RESOURCE_PREFIX}-adhoc"
    database: str = f"{RESOURCE_PREFIX}_lake"


@dataclasses.dataclass(frozen=True)
class QuickSightConfig:
    aws_account_id: str = ""
    dataset_ids: tuple[str, ...] = (f"{RESOURCE_PREFIX}-gold-kpis",)


@dataclasses.dataclass(frozen=True)
class SnsConfig:
    alerts_topic: str = f"{RESOURCE_PREFIX}-platform-alerts"


@dataclasses.dataclass(frozen=True)
class LocalRunConfig:
    """How ``make run`` behaves on a laptop; ``make demo`` turns both off for a bounded, exact run."""

    live_traffic_rate: float = 20.0  # events/s the demo-traffic component sends; 0 = no live traffic
    scheduled_runs: bool = True  # False: the scheduler runs only triggered DAG runs (no cron, no assets)


@dataclasses.dataclass(frozen=True)
class PlatformConfig:
    env: Environment
    project_root: Path
    aws_account_id: str = "000000000000"
    data_bucket: str = f"{RESOURCE_PREFIX}-lake"
    artifacts_bucket: str = f"{RESOURCE_PREFIX}-artifacts"
    batch_engine: str = "databricks"  # aws only: "glue" or "databricks"
    local_state_dir: str = ""  # default: <project>/.platform; tests point it at a tmp dir
    connections: ConnectionIds = dataclasses.field(default_factory=ConnectionIds)
    ports: LocalPorts = dataclasses.field(default_factory=LocalPorts)
    stream: StreamConfig = dataclasses.field(default_factory=StreamConfig)
    lake: LakeConfig = dataclasses.field(default_factory=LakeConfig)
    glue: GlueConfig = dataclasses.field(default_factory=GlueConfig)
    databricks: DatabricksConfig = dataclasses.field(default_factory=DatabricksConfig)
    redshift: RedshiftConfig = dataclasses.field(default_factory=RedshiftConfig)
    athena: AthenaConfig = dataclasses.field(default_factory=AthenaConfig)
    quicksight: QuickSightConfig = dataclasses.field(default_factory=QuickSightConfig)
    sns: SnsConfig = dataclasses.field(default_factory=SnsConfig)
    local_run: LocalRunConfig = dataclasses.field(default_factory=LocalRunConfig)

    @property
    def state_dir(self) -> Path:
        """Where the local runtime keeps logs, pids and the Airflow home."""
        return Path(self.local_state_dir) if self.local_state_dir else self.project_root / ".platform"

    @property
    def local_aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.aws}"

    @property
    def alerts_topic_arn(self) -> str:
        return f"arn:aws:sns:{self.stream.region}:{self.aws_account_id}:{self.sns.alerts_topic}"


def _defaults_for(env: Environment, root: Path) -> PlatformConfig:
    """The per-environment mapping: local stand-ins next to the AWS resources they replace."""
    base = PlatformConfig(env=env, project_root=root)
    if env is Environment.LOCAL:
        return dataclasses.replace(
            base,
            lake=LakeConfig(root=str(root / "data" / "lake")),
            stream=dataclasses.replace(base.stream, endpoint_url=base.local_aws_endpoint),
        )
    return dataclasses.replace(base, lake=LakeConfig(root=f"s3://{base.data_bucket}/lake"))


def _coerce(value: Any, annotation: Any) -> Any:
    """Convert an override (often a string from the environment) to the field's declared type."""
    target = _resolve_type(annotation)
    if target is bool and isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if target is tuple and isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if target is tuple:
        return tuple(value)
    if target in (int, float, str, Path):
        return target(value)
    return value


def _resolve_type(annotation: Any) -> Any:
    if isinstance(annotation, str):
        annotation = eval(annotation, vars(typing) | globals())  # noqa: S307 - our own annotations
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return origin or annotation


def _apply(obj: Any, overrides: Mapping[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        name = key.lower()
        if name not in fields:
            raise KeyError(f"unknown platform setting {where}{name}; known: {sorted(fields)}")
        current = getattr(obj, name)
        if dataclasses.is_dataclass(current) and isinstance(value, Mapping):
            changes[name] = _apply(current, value, f"{where}{name}.")
        else:
            changes[name] = _coerce(value, fields[name].type)
    return dataclasses.replace(obj, **changes)


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Collect ``PLATFORM__SECTION__FIELD=value`` variables into a nested mapping."""
    nested: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(OVERRIDE_PREFIX):
            continue
        *sections, leaf = key[len(OVERRIDE_PREFIX) :].lower().split("__")
        node = nested
        for section in sections:
            node = node.setdefault(section, {})
        node[leaf] = value
    return nested


def get_config(
    overrides: Mapping[str, Any] | None = None, *, env: Environment | str | None = None
) -> PlatformConfig:
    """Build the configuration for the active environment, with env and explicit overrides.

    :param env: the environment, when the caller knows it (a Spark job's ``--platform-env``);
        default ``PLATFORM_ENV``.
    """
    environment = Environment(env) if env is not None else get_env()
    config = _cached_config(environment, project_root(), tuple(sorted(_flatten(env_overrides(os.environ)))))
    return _apply(config, overrides, "") if overrides else config


def _flatten(nested: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in nested.items():
        if isinstance(value, Mapping):
            items.extend(_flatten(value, f"{prefix}{key}__"))
        else:
            items.append((f"{prefix}{key}", str(value)))
    return items


@lru_cache(maxsize=8)
def _cached_config(
    env: Environment, root: Path, flat_overrides: tuple[tuple[str, str], ...]
) -> PlatformConfig:
    config = _defaults_for(env, root)
    if flat_overrides:
        config = _apply(config, env_overrides({OVERRIDE_PREFIX + k: v for k, v in flat_overrides}), "")
        # endpoint follows the port unless set explicitly
        if env is Environment.LOCAL and not any(k == "stream__endpoint_url" for k, _ in flat_overrides):
            config = dataclasses.replace(
                config, stream=dataclasses.replace(config.stream, endpoint_url=config.local_aws_endpoint)
            )
    return config
