"""The platform's own CloudWatch metrics (namespace ``EDP/Platform``) and how they are published.

| metric | dimensions | unit | published by |
| --- | --- | --- | --- |
| ``Alerts`` | ``AlertKind`` | Count | the failure callback, once per published alert (aws only) |
| ``DataFreshnessSeconds`` | ``Table`` | Seconds | the ``data_freshness`` DAG, every run (aws only) |

The Kinesis source lag is Kinesis's own ``AWS/Kinesis GetRecords.IteratorAgeMilliseconds``; the
streaming job's health metrics are in ``EDP/Streaming`` (``edp.stream.metrics``). The functions
take a boto3 CloudWatch client, so tasks pass the Airflow AWS connection's client and tests moto's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

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
