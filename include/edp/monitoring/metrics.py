"""The platform's own metrics (namespace ``EDP/Platform``) and the sink each environment sends them to.

| metric | dimensions | unit | published by |
| --- | --- | --- | --- |
| ``Alerts`` | ``AlertKind`` | Count | the failure callback, once per published alert |
| ``DataFreshnessSeconds`` | ``Table`` | Seconds | the ``data_freshness`` DAG, every run |

The sink is the environment's ``metrics`` resource (:mod:`edp.resources`): :class:`CloudWatchMetrics`
on AWS, where the alarms of :mod:`edp.monitoring.alarms` watch them; :class:`FileMetrics` locally,
where no alarm is evaluated, so the latest value per metric is kept in
``<state dir>/monitoring/platform_metrics.json`` for people to read. The same resource reads the
streaming job's health facts for the supervisor (a file locally, ``EDP/Streaming`` on AWS).

The Kinesis source lag is Kinesis's own ``AWS/Kinesis GetRecords.IteratorAgeMilliseconds``; the
streaming job's health metrics are in ``EDP/Streaming`` (``edp.stream.metrics``). The ``put_*``
functions take a boto3 CloudWatch client, so tasks pass the Airflow AWS connection's client and tests moto's.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from edp.config import PlatformConfig
    from edp.stream.supervision.metrics import StreamingMetrics

StreamingReader = Callable[[datetime], "StreamingMetrics | None"]

NAMESPACE = "EDP/Platform"
ALERTS_METRIC = "Alerts"
FRESHNESS_METRIC = "DataFreshnessSeconds"


def alert_metric_datum(alert: Mapping[str, Any]) -> dict[str, Any]:
    """One count for a published alert, by its kind."""
    return {
        "MetricName": ALERTS_METRIC,
        "Dimensions": [{"Name": "AlertKind", "Value": str(alert["alert_kind"])}],
        "Value": 1.0,
        "Unit": "Count",
    }


def freshness_metric_datum(table: str, age_seconds: float, at: datetime | None = None) -> dict[str, Any]:
    return {
        "MetricName": FRESHNESS_METRIC,
        "Dimensions": [{"Name": "Table", "Value": table}],
        "Value": float(age_seconds),
        "Unit": "Seconds",
        "Timestamp": at or datetime.now(tz=UTC),
    }


def put_alert_metric(client: Any, alert: Mapping[str, Any]) -> None:
    client.put_metric_data(Namespace=NAMESPACE, MetricData=[alert_metric_datum(alert)])


def put_freshness_metric(client: Any, table: str, age_seconds: float, at: datetime | None = None) -> None:
    client.put_metric_data(Namespace=NAMESPACE, MetricData=[freshness_metric_datum(table, age_seconds, at)])


class MetricsSink(Protocol):
    """Where platform metrics go, and where the streaming job's health facts are read from."""

    streaming_sink: str  # the streaming job's --metrics-sink: "file" or "cloudwatch"

    def publish_freshness(self, table: str, age_seconds: float, at: datetime) -> None: ...

    def count_alert(self, alert: Mapping[str, Any]) -> None: ...

    def streaming_reader(self) -> StreamingReader: ...


class CloudWatchMetrics:
    """CloudWatch through the Airflow AWS connection (clients made on first use, in tasks)."""

    streaming_sink = "cloudwatch"

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def client(self) -> Any:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook  # noqa: PLC0415 - task-time only

        return AwsBaseHook(
            aws_conn_id=self.config.connections.aws,
            client_type="cloudwatch",
            region_name=self.config.stream.region,
        ).conn

    def publish_freshness(self, table: str, age_seconds: float, at: datetime) -> None:
        put_freshness_metric(self.client(), table, age_seconds, at)

    def count_alert(self, alert: Mapping[str, Any]) -> None:
        put_alert_metric(self.client(), alert)

    def streaming_reader(self) -> StreamingReader:
        from edp.lake import STREAM_EVENTS_QUERY  # noqa: PLC0415
        from edp.stream.supervision.metrics import read_cloudwatch_metrics  # noqa: PLC0415

        client = self.client()
        stream_name = self.config.stream.name
        return lambda now: read_cloudwatch_metrics(
            client, query_name=STREAM_EVENTS_QUERY, stream_name=stream_name, now=now
        )


class FileMetrics:
    """JSON files under the state dir: the latest value of each platform metric, the job's health file."""

    streaming_sink = "file"

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        self.path = config.state_dir / "monitoring" / "platform_metrics.json"

    def _record(self, datum: Mapping[str, Any], *, add: bool = False) -> None:
        """Keep ``datum`` as its metric's latest value (``add``: a running count)."""
        dimensions = ",".join(f"{d['Name']}={d['Value']}" for d in datum["Dimensions"])
        key = f"{datum['MetricName']}[{dimensions}]"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Tasks run side by side locally: one read-modify-write at a time, so no count is lost.
        with open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                document = json.loads(self.path.read_text())
            except (OSError, ValueError):
                document = {}
            value = float(datum["Value"]) + (float(document.get(key, {}).get("value", 0)) if add else 0)
            at = datum.get("Timestamp") or datetime.now(tz=UTC)
            document[key] = {"value": value, "unit": datum["Unit"], "at": at.isoformat()}
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(document, indent=2, sort_keys=True))
            tmp.replace(self.path)

    def publish_freshness(self, table: str, age_seconds: float, at: datetime) -> None:
        self._record(freshness_metric_datum(table, age_seconds, at))

    def count_alert(self, alert: Mapping[str, Any]) -> None:
        self._record(alert_metric_datum(alert), add=True)

    def streaming_reader(self) -> StreamingReader:
        from edp.lake import streaming_metrics_path  # noqa: PLC0415
        from edp.stream.supervision.metrics import read_local_metrics  # noqa: PLC0415

        path = streaming_metrics_path(self.config)
        return lambda _now: read_local_metrics(Path(path))
