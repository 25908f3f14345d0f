"""The environment mapping: for each environment, the resource that serves each concern.

Code asks for a resource (``resources(config).warehouse``) and never checks which environment it runs
in; this module is the one place that knows. Every environment has the same keys (the fields of
:class:`ResourceMap`), so the local twin and the AWS resource sit side by side:

| concern | ``local`` | ``aws`` |
| --- | --- | --- |
| ``lake`` (lake storage) | local files under ``lake.root`` | S3 ``s3://<data bucket>/lake``, AWS connection's credentials |
| ``artifacts`` (quality records, Data Docs, gold exports) | local files under the state dir | S3 ``s3://<artifacts bucket>`` |
| ``stream`` | Kinesis on the loopback moto endpoint | Kinesis |
| ``warehouse`` | DuckDB file ``<state>/warehouse/warehouse.duckdb`` | Redshift Serverless (Data API) |
| ``lake_query`` | DuckDB over delta-rs, local catalog | Athena + Glue catalog |
| ``bi`` | static dashboard served by the Airflow plugin | QuickSight SPICE datasets |
| ``alerts`` (Slack delivery) | local Slack receiver, dead-letter and state files | Slack webhook from Secrets Manager, Lambda retries |
| ``metrics`` (metrics sink) | JSON files under the state dir | CloudWatch |
| ``batch`` (batch engine) | ``spark-submit`` on this machine | Glue 5 or Databricks jobs (``batch_engine``) |
| ``streaming`` (streaming controller) | the local runtime's ``streaming-job`` component | the Databricks streaming job |
| ``components`` (platform processes) | the local runtime's supervised components | managed services (nothing to supervise) |
| ``secrets`` | development fallbacks for unset secrets | none: a missing secret fails closed |
| ``state`` (state between DAG runs) | JSON files under the state dir | Airflow Variables |

The shape is dagster's hooli ``resources/__init__.py``. Unlike hooli, nothing is built at import:
each resource is made on first use by a factory that imports its module then, so a DAG file that asks
for a name or a task factory never loads a provider, DuckDB or the local runtime. Only this module may
name ``edp_local`` (the local stand-ins, absent from the production image), and only inside a factory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from edp.config import Environment, PlatformConfig, get_config

if TYPE_CHECKING:
    from edp.alerting.slack.settings import AlertDelivery
    from edp.batch.tasks import BatchEngine
    from edp.config.secrets import DevelopmentSecrets, ManagedSecrets
    from edp.lake.storage import Storage
    from edp.monitoring.health import Components
    from edp.monitoring.metrics import MetricsSink
    from edp.orchestration.state import StateStore
    from edp.serving.bi import Bi
    from edp.serving.lake_query import LakeQuery
    from edp.serving.warehouse import Warehouse
    from edp.stream.kinesis_stream import KinesisStream
    from edp.stream.supervision.platform import StreamingPlatform

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Factory(Generic[T]):
    """Builds one resource from the configuration; ``describe`` names it for docs and ``make status``."""

    build: Callable[[PlatformConfig], T]
    describe: str


@dataclasses.dataclass(frozen=True)
class ResourceMap:
    """One factory per concern. A dataclass, so every environment must fill every key."""

    lake: Factory[Storage]
    artifacts: Factory[Storage]
    stream: Factory[KinesisStream]
    warehouse: Factory[Warehouse]
    lake_query: Factory[LakeQuery]
    bi: Factory[Bi]
    alerts: Factory[AlertDelivery]
    metrics: Factory[MetricsSink]
    batch: Factory[BatchEngine]
    streaming: Factory[StreamingPlatform]
    components: Factory[Components]
    secrets: Factory[DevelopmentSecrets | ManagedSecrets]
    state: Factory[StateStore]


# Names operators know for the AWS state Variables (documented in the runbooks).
STATE_VARIABLES = {
    "incidents/": "platform_incident__",
    "streaming/supervision": "streaming_supervision_state",
}


# ---- factories: each imports its resource's module when the resource is first asked for ----------
# ruff: noqa: PLC0415 - every import below is deliberately deferred to first use
def _local_storage(root: Callable[[PlatformConfig], str]) -> Callable[[PlatformConfig], Storage]:
    def build(config: PlatformConfig) -> Storage:
        from edp.lake.storage import LocalStorage

        return LocalStorage(root(config))

    return build


def _s3_storage(root: Callable[[PlatformConfig], str]) -> Callable[[PlatformConfig], Storage]:
    def build(config: PlatformConfig) -> Storage:
        from edp.lake.storage import S3Storage, airflow_credentials

        return S3Storage(root(config), airflow_credentials(config), region=config.stream.region)

    return build


def _stream(config: PlatformConfig) -> KinesisStream:
    from edp.stream.kinesis_stream import KinesisStream

    return KinesisStream.from_config(config)


def _duckdb_warehouse(config: PlatformConfig) -> Warehouse:
    from edp.serving.warehouse import DuckDbWarehouse

    return DuckDbWarehouse(config)


def _redshift_warehouse(config: PlatformConfig) -> Warehouse:
    from edp.serving.warehouse import RedshiftWarehouse

    return RedshiftWarehouse(config)


def _duckdb_lake_query(config: PlatformConfig) -> LakeQuery:
    from edp.serving.lake_query import DuckDbLakeQuery

    return DuckDbLakeQuery(config)


def _athena_lake_query(config: PlatformConfig) -> LakeQuery:
    from edp.serving.lake_query import AthenaLakeQuery

    return AthenaLakeQuery(config)


def _local_dashboard(config: PlatformConfig) -> Bi:
    from edp.serving.bi import LocalDashboard

    return LocalDashboard(config)


def _quicksight(config: PlatformConfig) -> Bi:
    from edp.serving.bi import QuickSight

    return QuickSight(config)


def _local_alerts(config: PlatformConfig) -> AlertDelivery:
    from edp.alerting.slack.settings import AlertDelivery

    return AlertDelivery.local(config)


def _aws_alerts(config: PlatformConfig) -> AlertDelivery:
    from edp.alerting.slack.settings import AlertDelivery

    return AlertDelivery(topic_arn=config.alerts_topic_arn)


def _file_metrics(config: PlatformConfig) -> MetricsSink:
    from edp.monitoring.metrics import FileMetrics

    return FileMetrics(config)


def _cloudwatch_metrics(config: PlatformConfig) -> MetricsSink:
    from edp.monitoring.metrics import CloudWatchMetrics

    return CloudWatchMetrics(config)


def _local_batch(config: PlatformConfig) -> BatchEngine:
    from edp.batch.tasks import LocalSparkSubmit

    return LocalSparkSubmit(config)


def _aws_batch(config: PlatformConfig) -> BatchEngine:
    from edp.batch.tasks import aws_batch_engine

    return aws_batch_engine(config)


def _local_streaming(config: PlatformConfig) -> StreamingPlatform:
    from edp_local.runtime.streaming_control import LocalStreaming

    return LocalStreaming(config)


def _databricks_streaming(config: PlatformConfig) -> StreamingPlatform:
    from edp.stream.supervision.platform import DatabricksStreaming

    return DatabricksStreaming(config)


def _local_components(config: PlatformConfig) -> Components:
    from edp_local.runtime.components import LocalComponents

    return LocalComponents(config)


def _managed_components(config: PlatformConfig) -> Components:
    from edp.monitoring.health import ManagedComponents

    return ManagedComponents()


def _development_secrets(config: PlatformConfig) -> DevelopmentSecrets:
    from edp.config.secrets import DevelopmentSecrets

    return DevelopmentSecrets()


def _managed_secrets(config: PlatformConfig) -> ManagedSecrets:
    from edp.config.secrets import ManagedSecrets

    return ManagedSecrets()


def _file_state(config: PlatformConfig) -> StateStore:
    from edp.orchestration.state import FileStateStore

    return FileStateStore(config.state_dir)


def _variable_state(config: PlatformConfig) -> StateStore:
    from edp.orchestration.state import VariableStateStore

    return VariableStateStore(STATE_VARIABLES)


def _lake_root(config: PlatformConfig) -> str:
    return config.lake.root


def _state_dir(config: PlatformConfig) -> str:
    return str(config.state_dir)


def _artifacts_bucket(config: PlatformConfig) -> str:
    return f"s3://{config.artifacts_bucket}"


RESOURCES: dict[Environment, ResourceMap] = {
    Environment.LOCAL: ResourceMap(
        lake=Factory(_local_storage(_lake_root), "local files under lake.root"),
        artifacts=Factory(_local_storage(_state_dir), "local files under the state dir"),
        stream=Factory(_stream, "Kinesis on the loopback moto endpoint"),
        warehouse=Factory(_duckdb_warehouse, "DuckDB file"),
        lake_query=Factory(_duckdb_lake_query, "DuckDB over delta-rs"),
        bi=Factory(_local_dashboard, "static dashboard (Airflow plugin)"),
        alerts=Factory(_local_alerts, "local Slack receiver"),
        metrics=Factory(_file_metrics, "JSON files under the state dir"),
        batch=Factory(_local_batch, "local spark-submit"),
        streaming=Factory(_local_streaming, "local runtime component streaming-job"),
        components=Factory(_local_components, "local runtime components"),
        secrets=Factory(_development_secrets, "development fallbacks"),
        state=Factory(_file_state, "JSON files under the state dir"),
    ),
    Environment.AWS: ResourceMap(
        lake=Factory(_s3_storage(_lake_root), "S3 lake bucket"),
        artifacts=Factory(_s3_storage(_artifacts_bucket), "S3 artifacts bucket"),
        stream=Factory(_stream, "Kinesis Data Streams"),
        warehouse=Factory(_redshift_warehouse, "Redshift Serverless"),
        lake_query=Factory(_athena_lake_query, "Athena"),
        bi=Factory(_quicksight, "QuickSight"),
        alerts=Factory(_aws_alerts, "Slack webhook (Secrets Manager)"),
        metrics=Factory(_cloudwatch_metrics, "CloudWatch"),
        batch=Factory(_aws_batch, "Glue or Databricks (batch_engine)"),
        streaming=Factory(_databricks_streaming, "Databricks job"),
        components=Factory(_managed_components, "managed services"),
        secrets=Factory(_managed_secrets, "no fallback (fail closed)"),
        state=Factory(_variable_state, "Airflow Variables"),
    ),
}


class Resources:
    """The resources of ``config``'s environment, each built on first use and then kept."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        self.map = RESOURCES[config.env]

    def _build(self, factory: Factory[T]) -> T:
        return factory.build(self.config)

    @cached_property
    def lake(self) -> Storage:
        return self._build(self.map.lake)

    @cached_property
    def artifacts(self) -> Storage:
        return self._build(self.map.artifacts)

    @cached_property
    def stream(self) -> KinesisStream:
        return self._build(self.map.stream)

    @cached_property
    def warehouse(self) -> Warehouse:
        return self._build(self.map.warehouse)

    @cached_property
    def lake_query(self) -> LakeQuery:
        return self._build(self.map.lake_query)

    @cached_property
    def bi(self) -> Bi:
        return self._build(self.map.bi)

    @cached_property
    def alerts(self) -> AlertDelivery:
        return self._build(self.map.alerts)

    @cached_property
    def metrics(self) -> MetricsSink:
        return self._build(self.map.metrics)

    @cached_property
    def batch(self) -> BatchEngine:
        return self._build(self.map.batch)

    @cached_property
    def streaming(self) -> StreamingPlatform:
        return self._build(self.map.streaming)

    @cached_property
    def components(self) -> Components:
        return self._build(self.map.components)

    @cached_property
    def secrets(self) -> DevelopmentSecrets | ManagedSecrets:
        return self._build(self.map.secrets)

    @cached_property
    def state(self) -> StateStore:
        return self._build(self.map.state)

    def describe(self) -> dict[str, Any]:
        """``{concern: what serves it}`` for this environment."""
        return {f.name: getattr(self.map, f.name).describe for f in dataclasses.fields(self.map)}


def resources(config: PlatformConfig | None = None) -> Resources:
    """The resources of ``config`` (default: :func:`edp.config.get_config`)."""
    return Resources(config or get_config())
