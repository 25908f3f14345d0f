"""Streaming health metrics: the snapshot, the local JSON file and CloudWatch publishing (moto)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from edp.stream.metrics import (
    CLOUDWATCH_NAMESPACE,
    FORMAT,
    CloudWatchSink,
    FileSink,
    HealthTracker,
    lag_from_progress,
    lag_from_source_file,
    read_health,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)


def progress(batch_id: int = 41, *, kinesis_metrics: dict[str, str] | None = None) -> dict[str, Any]:
    """A progress event as ``StreamingQueryProgress.json`` renders it."""
    return {
        "id": "5f0c2a44-0000-4000-8000-000000000001",
        "runId": "9a1e0000-0000-4000-8000-000000000002",
        "name": "stream_events",
        "timestamp": "2026-01-01T00:00:04.000Z",
        "batchId": batch_id,
        "batchDuration": 1260,
        "numInputRows": 120,
        "inputRowsPerSecond": 40.0,
        "processedRowsPerSecond": 95.2,
        "durationMs": {"addBatch": 1100, "triggerExecution": 1260},
        "stateOperators": [],
        "sources": [
            {
                "description": "KinesisV2[edp-events]",
                "startOffset": {"shards": {"shardId-000000000000": "10"}},
                "endOffset": {"shards": {"shardId-000000000000": "130"}},
                "latestOffset": None,
                "numInputRows": 120,
                "inputRowsPerSecond": 40.0,
                "processedRowsPerSecond": 95.2,
                "metrics": kinesis_metrics or {},
            }
        ],
        "sink": {"description": "ForeachBatchSink", "numOutputRows": -1},
    }


class ListSink:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, snapshot: dict[str, Any]) -> None:
        self.published.append(snapshot)


class BrokenSink:
    def publish(self, snapshot: dict[str, Any]) -> None:
        raise OSError("disk full")


def tracker_for(sink: Any, lag: Any = lag_from_progress) -> HealthTracker:
    return HealthTracker(sink, "stream_events", source_lag=lag, clock=lambda: NOW)


def test_progress_is_written_atomically_to_the_metrics_file_in_the_documented_format(tmp_path: Path) -> None:
    path = tmp_path / "streaming" / "metrics.json"
    tracker = tracker_for(FileSink(path), lag=lambda _p: {"max_ms_behind_latest": 250.0, "origin": "test"})

    tracker.progress(progress())

    health = read_health(path)
    assert health == {
        "format": FORMAT,
        "query_name": "stream_events",
        "query_id": "5f0c2a44-0000-4000-8000-000000000001",
        "run_id": "9a1e0000-0000-4000-8000-000000000002",
        "state": "running",
        "event": "progress",
        "written_at": "2026-01-01T00:00:05+00:00",
        "last_progress_at": "2026-01-01T00:00:04.000Z",
        "batch_id": 41,
        "num_input_rows": 120,
        "input_rows_per_second": 40.0,
        "processed_rows_per_second": 95.2,
        "batch_duration_ms": 1260,
        "source_lag": {"max_ms_behind_latest": 250.0, "origin": "test"},
        "committed_offsets": [
            {"source": "KinesisV2[edp-events]", "end_offset": {"shards": {"shardId-000000000000": "130"}}}
        ],
        "error": None,
    }
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no temp file left behind


def test_idle_keeps_the_last_batch_figures_and_refreshes_the_heartbeat() -> None:
    sink = ListSink()
    tracker = tracker_for(sink, lag=lambda p: {"max_ms_behind_latest": 0.0} if p else None)
    tracker.progress(progress(batch_id=7))

    idle = tracker.idle("5f0c2a44-0000-4000-8000-000000000001", "9a1e0000-0000-4000-8000-000000000002")

    assert (idle["state"], idle["event"], idle["batch_id"], idle["num_input_rows"]) == (
        "idle",
        "idle",
        7,
        120,
    )
    assert idle["source_lag"] == {"max_ms_behind_latest": 0.0}  # carried over: the source said nothing new


def test_a_failed_query_is_reported_and_late_listener_events_do_not_revive_it() -> None:
    sink = ListSink()
    tracker = tracker_for(sink)
    tracker.started("q", "r")

    tracker.terminated("StreamingQueryException: boom")
    late = tracker.progress(progress())

    assert [s["state"] for s in sink.published] == ["starting", "failed"]
    assert (late["state"], late["error"]) == ("failed", "StreamingQueryException: boom")


def test_a_failing_sink_never_raises_into_the_stream() -> None:
    snapshot = tracker_for(BrokenSink()).progress(progress())

    assert snapshot["batch_id"] == 41


def test_lag_comes_from_databricks_kinesis_progress_metrics() -> None:
    lag = lag_from_progress(
        progress(kinesis_metrics={"avgMsBehindLatest": "12.5", "maxMsBehindLatest": "40"})
    )

    assert lag == {
        "max_ms_behind_latest": 40.0,
        "avg_ms_behind_latest": 12.5,
        "origin": "progress",
        "as_of": "2026-01-01T00:00:04.000Z",
    }
    assert lag_from_progress(progress()) is None


def test_lag_comes_from_the_kinesis_local_metrics_document(tmp_path: Path) -> None:
    path = tmp_path / "kinesis_source_metrics.json"
    path.write_text(
        json.dumps(
            {
                "stream": "edp-events",
                "readAt": "2026-01-01T00:00:01.250000+00:00",
                "readDurationMs": 41.7,
                "recordsRead": 120,
                "maxMillisBehindLatest": 3000,
                "newestArrivalTimestamp": "2026-01-01T00:00:01.100000+00:00",
                "shards": {
                    "shardId-000000000000": {"recordsRead": 60, "millisBehindLatest": 3000},
                    "shardId-000000000001": {"recordsRead": 60, "millisBehindLatest": 1000},
                },
            }
        )
    )

    assert lag_from_source_file(path) == {
        "max_ms_behind_latest": 3000.0,
        "avg_ms_behind_latest": 2000.0,
        "origin": "kinesis_local",
        "as_of": "2026-01-01T00:00:01.250000+00:00",
    }
    assert lag_from_source_file(tmp_path / "missing.json") is None


@pytest.fixture
def cloudwatch():
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def _datapoints(client, name: str) -> list[dict[str, Any]]:
    return client.get_metric_statistics(
        Namespace=CLOUDWATCH_NAMESPACE,
        MetricName=name,
        Dimensions=[{"Name": "QueryName", "Value": "stream_events"}],
        StartTime=NOW - timedelta(minutes=5),
        EndTime=NOW + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum", "SampleCount"],
    )["Datapoints"]


def test_progress_is_published_to_cloudwatch_with_the_query_dimension(cloudwatch) -> None:
    sink = CloudWatchSink("stream_events", region="us-east-1")
    tracker = tracker_for(sink)

    tracker.progress(progress(kinesis_metrics={"avgMsBehindLatest": "12.5", "maxMsBehindLatest": "40"}))

    names = {
        m["MetricName"]
        for m in cloudwatch.list_metrics(Namespace=CLOUDWATCH_NAMESPACE)["Metrics"]
        if m["Dimensions"] == [{"Name": "QueryName", "Value": "stream_events"}]
    }
    assert names == {
        "InputRowsPerSecond",
        "ProcessedRowsPerSecond",
        "NumInputRows",
        "BatchDuration",
        "MaxMsBehindLatest",
        "AvgMsBehindLatest",
        "Heartbeat",
    }
    assert _datapoints(cloudwatch, "InputRowsPerSecond")[0]["Maximum"] == 40.0
    assert _datapoints(cloudwatch, "MaxMsBehindLatest")[0]["Maximum"] == 40.0
    assert _datapoints(cloudwatch, "BatchDuration")[0]["Unit"] == "Milliseconds"


def test_idle_sends_only_the_heartbeat_and_a_failure_sends_query_failed(cloudwatch) -> None:
    sink = CloudWatchSink("stream_events", region="us-east-1")
    tracker = tracker_for(sink)

    tracker.idle("q", "r")
    tracker.terminated("boom")

    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=CLOUDWATCH_NAMESPACE)["Metrics"]}
    assert names == {"Heartbeat", "QueryTerminated", "QueryFailed"}
    assert _datapoints(cloudwatch, "Heartbeat")[0]["SampleCount"] == 1.0


def test_the_cloudwatch_client_is_created_only_when_first_used() -> None:
    sink = CloudWatchSink("stream_events", region="us-east-1")

    assert sink.metric_data({"event": "started", "written_at": NOW.isoformat()}) == []
    assert sink._client is None
