"""The streaming job's health facts, read from where the job publishes them.

The job (``include/spark/stream_events.py``, via :mod:`edp.stream.metrics`) publishes a health
snapshot on every query event: locally a JSON file (``edp.lake.streaming_metrics_path()``), on AWS
CloudWatch metrics in ``EDP/Streaming`` with the dimension ``QueryName``. Both become one
:class:`StreamingMetrics`, so the verdict in :mod:`edp.stream.supervision.health` does not care which.

On AWS the Kinesis stream's own ``GetRecords.IteratorAgeMilliseconds`` (namespace ``AWS/Kinesis``) is
read as well: it is the age of the oldest record the consumer has not read yet, measured by Kinesis
itself, so it still grows when the job's own lag metric stops arriving.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edp.stream.metrics import CLOUDWATCH_NAMESPACE, FORMAT, read_health

KINESIS_NAMESPACE = "AWS/Kinesis"
ITERATOR_AGE = "GetRecords.IteratorAgeMilliseconds"
# Snapshot states after which the query no longer runs (the process may still be exiting).
ENDED_STATES = frozenset({"terminated", "failed"})
CLOUDWATCH_PERIOD_S = 60
CLOUDWATCH_WINDOW = timedelta(minutes=30)


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


@dataclasses.dataclass(frozen=True)
class StreamingMetrics:
    """One reading of the job's health facts.

    :param origin: where they came from (``file:<path>`` or ``cloudwatch:<namespace>``).
    :param heartbeat_at: the newest sign of life: any query event (progress or idle, ~every 10 s).
    :param last_progress_at: trigger time of the last micro-batch that had input.
    :param state: ``starting|running|idle|terminated|failed`` (file only; ``None`` from CloudWatch).
    :param source_lag_ms: how far behind the stream's tip the reader is (max over shards).
    :param run_id: the query run that wrote them (new on every start; file only).
    :param error: the failure text when the query failed (file only).
    """

    origin: str
    heartbeat_at: datetime | None = None
    last_progress_at: datetime | None = None
    state: str | None = None
    batch_id: int | None = None
    num_input_rows: float | None = None
    input_rows_per_second: float | None = None
    processed_rows_per_second: float | None = None
    batch_duration_ms: float | None = None
    source_lag_ms: float | None = None
    run_id: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        facts = dataclasses.asdict(self)
        for key in ("heartbeat_at", "last_progress_at"):
            facts[key] = None if facts[key] is None else facts[key].isoformat()
        return facts


def from_snapshot(snapshot: Mapping[str, Any], origin: str) -> StreamingMetrics:
    """Parse the job's health snapshot (format ``edp.streaming.health/v1``, see edp.stream.metrics)."""
    found = snapshot.get("format")
    if found != FORMAT:
        raise ValueError(f"{origin}: unknown health snapshot format {found!r}, expected {FORMAT!r}")
    lag = snapshot.get("source_lag") or {}
    batch_id = snapshot.get("batch_id")
    return StreamingMetrics(
        origin=origin,
        heartbeat_at=_moment(snapshot.get("written_at")),
        last_progress_at=_moment(snapshot.get("last_progress_at")),
        state=snapshot.get("state"),
        batch_id=int(batch_id) if isinstance(batch_id, int) else None,
        num_input_rows=_number(snapshot.get("num_input_rows")),
        input_rows_per_second=_number(snapshot.get("input_rows_per_second")),
        processed_rows_per_second=_number(snapshot.get("processed_rows_per_second")),
        batch_duration_ms=_number(snapshot.get("batch_duration_ms")),
        source_lag_ms=_number(lag.get("max_ms_behind_latest")),
        run_id=snapshot.get("run_id"),
        error=snapshot.get("error"),
    )


def read_local_metrics(path: str | Path) -> StreamingMetrics | None:
    """The job's last snapshot from its local metrics file; ``None`` before it has written one."""
    snapshot = read_health(path)
    return None if snapshot is None else from_snapshot(snapshot, f"file:{path}")


def _query(metric_id: str, namespace: str, name: str, dimensions: list[dict[str, str]], stat: str) -> dict:
    return {
        "Id": metric_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions},
            "Period": CLOUDWATCH_PERIOD_S,
            "Stat": stat,
        },
        "ReturnData": True,
    }


# (query id, metric name, statistic) of the job's own metrics, dimension QueryName.
_JOB_METRICS = (
    ("heartbeat", "Heartbeat", "Sum"),
    ("input_rows", "NumInputRows", "Sum"),
    ("input_rate", "InputRowsPerSecond", "Average"),
    ("processed_rate", "ProcessedRowsPerSecond", "Average"),
    ("batch_duration", "BatchDuration", "Average"),
    ("lag", "MaxMsBehindLatest", "Maximum"),
    ("terminated", "QueryTerminated", "Sum"),
    ("failed", "QueryFailed", "Sum"),
)


def _newest(
    results: Mapping[str, tuple[list[datetime], list[float]]], key: str
) -> tuple[datetime, float] | None:
    timestamps, values = results.get(key, ([], []))
    if not timestamps:
        return None
    newest = max(range(len(timestamps)), key=lambda i: timestamps[i])
    return timestamps[newest].astimezone(UTC), float(values[newest])


def _fetch(client: Any, queries: list[dict], now: datetime, window: timedelta) -> dict:
    results: dict[str, tuple[list[datetime], list[float]]] = {}
    kwargs: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": now - window,
        "EndTime": now + timedelta(seconds=CLOUDWATCH_PERIOD_S),
        "ScanBy": "TimestampDescending",
    }
    while True:
        page = client.get_metric_data(**kwargs)
        for result in page.get("MetricDataResults", []):
            timestamps, values = results.setdefault(result["Id"], ([], []))
            timestamps.extend(result.get("Timestamps", []))
            values.extend(result.get("Values", []))
        token = page.get("NextToken")
        if not token:
            return results
        kwargs["NextToken"] = token


def _cloudwatch_state(results: Mapping[str, tuple[list[datetime], list[float]]]) -> str | None:
    """``failed``/``terminated`` if the query ended after its last heartbeat, else ``None`` (unknown)."""
    heartbeat = _newest(results, "heartbeat")
    for key in ("failed", "terminated"):
        ended = _newest(results, key)
        if ended is not None and (heartbeat is None or ended[0] >= heartbeat[0]):
            return key
    return None


def read_cloudwatch_metrics(
    client: Any,
    *,
    query_name: str,
    stream_name: str,
    now: datetime,
    namespace: str = CLOUDWATCH_NAMESPACE,
    window: timedelta = CLOUDWATCH_WINDOW,
) -> StreamingMetrics:
    """The job's facts from CloudWatch (``client``: a boto3 CloudWatch client) over the last ``window``.

    CloudWatch aggregates per minute, so times here are the start of the newest minute with data:
    up to a minute older than the event itself. Bounds on AWS allow for that.
    """
    job = [{"Name": "QueryName", "Value": query_name}]
    queries = [_query(key, namespace, name, job, stat) for key, name, stat in _JOB_METRICS]
    queries.append(
        _query(
            "iterator_age",
            KINESIS_NAMESPACE,
            ITERATOR_AGE,
            [{"Name": "StreamName", "Value": stream_name}],
            "Maximum",
        )
    )
    results = _fetch(client, queries, now, window)

    def value(key: str) -> float | None:
        newest = _newest(results, key)
        return None if newest is None else newest[1]

    heartbeat = _newest(results, "heartbeat")
    progress = _newest(results, "input_rows")
    lags = [lag for lag in (value("lag"), value("iterator_age")) if lag is not None]
    return StreamingMetrics(
        origin=f"cloudwatch:{namespace}",
        heartbeat_at=heartbeat[0] if heartbeat else None,
        last_progress_at=progress[0] if progress else None,
        state=_cloudwatch_state(results),
        num_input_rows=value("input_rows"),
        input_rows_per_second=value("input_rate"),
        processed_rows_per_second=value("processed_rate"),
        batch_duration_ms=value("batch_duration"),
        source_lag_ms=max(lags) if lags else None,
    )
