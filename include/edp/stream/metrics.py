"""Streaming health metrics: a JSON file locally, CloudWatch on AWS (standard library + lazy boto3).

:class:`HealthTracker` turns the streaming query's listener events (progress, idle, start, end) into
one flat *health snapshot* and hands it to a sink. The supervisor DAG judges the job's health from
that snapshot alone, without reading Spark internals.

Local file (``edp.lake.streaming_metrics_path()``, ``<state dir>/streaming/metrics.json``), rewritten
atomically on every event; times are ISO-8601 UTC::

    {
      "format": "edp.streaming.health/v1",
      "query_name": "stream_events",
      "query_id": "5f0c...",                 # stable across restarts from the same checkpoint
      "run_id": "9a1e...",                   # new on every start
      "state": "running",                    # starting | running | idle | terminated | failed
      "event": "progress",                   # started | progress | idle | terminated: what wrote this
      "written_at": "2026-01-01T00:00:05.120000+00:00",   # heartbeat: at least every ~10 s while up
      "last_progress_at": "2026-01-01T00:00:04.000000+00:00",  # trigger time of the last batch; null
      "batch_id": 41,                        # last micro-batch; null before the first one
      "num_input_rows": 120,
      "input_rows_per_second": 40.0,
      "processed_rows_per_second": 95.2,
      "batch_duration_ms": 1260,
      "source_lag": {                        # null when the source reports nothing
        "max_ms_behind_latest": 0.0,
        "avg_ms_behind_latest": 0.0,
        "origin": "kinesis_local",           # kinesis_local (its metricsPath file) | progress (Databricks)
        "as_of": "2026-01-01T00:00:04.900000+00:00"
      },
      "committed_offsets": [                 # endOffset of each source in the last batch
        {"source": "...PythonMicroBatchStream...", "end_offset": {"shards": {"shardId-000000000000": "49..."}}}
      ],
      "error": null                          # the exception text when state is failed
    }

A consumer should treat the job as unhealthy when the file is missing, ``state`` is ``terminated`` or
``failed``, ``written_at`` is older than a minute, or the source lag keeps growing.

CloudWatch (namespace ``EDP/Streaming``, dimension ``QueryName``): on progress ``InputRowsPerSecond``,
``ProcessedRowsPerSecond`` (Count/Second), ``NumInputRows`` (Count), ``BatchDuration`` (Milliseconds);
on progress and idle ``MaxMsBehindLatest``/``AvgMsBehindLatest`` (Milliseconds) and ``Heartbeat`` (1,
Count; alarm on missing data); on termination ``QueryTerminated`` (1) and, if failed, ``QueryFailed`` (1).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

FORMAT = "edp.streaming.health/v1"
CLOUDWATCH_NAMESPACE = "EDP/Streaming"

log = logging.getLogger(__name__)


class MetricsSink(Protocol):
    def publish(self, snapshot: Mapping[str, Any]) -> None: ...


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN (Spark's rate before a second batch) -> None


def lag_from_progress(progress: Mapping[str, Any]) -> dict[str, Any] | None:
    """Databricks' Kinesis source reports ``avgMsBehindLatest``/``maxMsBehindLatest`` per source."""
    maxima, averages = [], []
    for source in progress.get("sources") or ():
        metrics = source.get("metrics") or {}
        if (high := _number(metrics.get("maxMsBehindLatest"))) is not None:
            maxima.append(high)
        if (mean := _number(metrics.get("avgMsBehindLatest"))) is not None:
            averages.append(mean)
    if not maxima and not averages:
        return None
    return {
        "max_ms_behind_latest": max(maxima) if maxima else None,
        "avg_ms_behind_latest": sum(averages) / len(averages) if averages else None,
        "origin": "progress",
        "as_of": progress.get("timestamp"),
    }


def lag_from_source_file(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Lag from the ``kinesis_local`` source's ``metricsPath`` document; ``None`` if absent or unreadable."""
    try:
        facts = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    shards = facts.get("shards") or {}
    behind = [v for s in shards.values() if (v := _number(s.get("millisBehindLatest"))) is not None]
    return {
        "max_ms_behind_latest": _number(facts.get("maxMillisBehindLatest")),
        "avg_ms_behind_latest": sum(behind) / len(behind) if behind else None,
        "origin": "kinesis_local",
        "as_of": facts.get("readAt"),
    }


def committed_offsets(progress: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{"source": description, "end_offset": offset}]`` per source of the last batch."""
    offsets = []
    for source in progress.get("sources") or ():
        end = source.get("endOffset")
        if isinstance(end, str):  # some sources' offsets are JSON text
            try:
                end = json.loads(end)
            except ValueError:
                pass
        offsets.append({"source": source.get("description"), "end_offset": end})
    return offsets


class HealthTracker:
    """Builds the health snapshot from listener events and publishes it; never raises into Spark."""

    def __init__(
        self,
        sink: MetricsSink,
        query_name: str,
        source_lag: Callable[[Mapping[str, Any]], dict[str, Any] | None] = lag_from_progress,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        self.sink = sink
        self.query_name = query_name
        self._source_lag = source_lag
        self._clock = clock
        self._lock = threading.Lock()
        self._ended = False
        self.snapshot: dict[str, Any] = {
            "format": FORMAT,
            "query_name": query_name,
            "query_id": None,
            "run_id": None,
            "state": "starting",
            "event": None,
            "written_at": None,
            "last_progress_at": None,
            "batch_id": None,
            "num_input_rows": None,
            "input_rows_per_second": None,
            "processed_rows_per_second": None,
            "batch_duration_ms": None,
            "source_lag": None,
            "committed_offsets": [],
            "error": None,
        }

    def started(self, query_id: str, run_id: str) -> dict[str, Any]:
        return self._publish("started", state="starting", query_id=query_id, run_id=run_id)

    def progress(self, progress: Mapping[str, Any]) -> dict[str, Any]:
        return self._publish(
            "progress",
            state="running",
            query_id=progress.get("id"),
            run_id=progress.get("runId"),
            last_progress_at=progress.get("timestamp"),
            batch_id=progress.get("batchId"),
            num_input_rows=progress.get("numInputRows"),
            input_rows_per_second=_number(progress.get("inputRowsPerSecond")),
            processed_rows_per_second=_number(progress.get("processedRowsPerSecond")),
            batch_duration_ms=progress.get("batchDuration"),
            source_lag=self._lag(progress),
            committed_offsets=committed_offsets(progress),
        )

    def idle(self, query_id: str, run_id: str) -> dict[str, Any]:
        return self._publish("idle", state="idle", query_id=query_id, run_id=run_id, source_lag=self._lag({}))

    def terminated(self, error: str | None = None) -> dict[str, Any]:
        return self._publish("terminated", state="failed" if error else "terminated", error=error)

    def _lag(self, progress: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            return self._source_lag(progress) or (self.snapshot["source_lag"] if not progress else None)
        except Exception:  # metrics must never stop the stream
            log.warning("could not read the source lag", exc_info=True)
            return None

    def _publish(self, event: str, **changes: Any) -> dict[str, Any]:
        with self._lock:
            if self._ended:  # a listener event delivered after the end must not revive the state
                return dict(self.snapshot)
            self._ended = event == "terminated"
            self.snapshot.update(changes, event=event, written_at=_iso(self._clock()))
            snapshot = dict(self.snapshot)
            try:
                self.sink.publish(snapshot)
            except Exception:  # metrics must never stop the stream
                log.warning("could not publish streaming metrics (%s)", event, exc_info=True)
        return snapshot


class FileSink:
    """Rewrites one JSON file atomically (a sibling temp file, then rename)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def publish(self, snapshot: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(snapshot, indent=2, default=str) + "\n")
        tmp.replace(self.path)


def read_health(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The last snapshot written by :class:`FileSink`, or ``None`` if there is none yet."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


class CloudWatchSink:
    """``put_metric_data`` into ``EDP/Streaming``; the boto3 client is created on first use."""

    def __init__(
        self,
        query_name: str,
        *,
        region: str,
        namespace: str = CLOUDWATCH_NAMESPACE,
        endpoint_url: str | None = None,
        client: Any = None,
    ) -> None:
        self.query_name = query_name
        self.region = region
        self.namespace = namespace
        self.endpoint_url = endpoint_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # noqa: PLC0415 - created on the first publish, never at import

            self._client = boto3.client("cloudwatch", region_name=self.region, endpoint_url=self.endpoint_url)
        return self._client

    def metric_data(self, snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The ``MetricData`` entries for one snapshot (empty values are left out)."""
        event = snapshot.get("event")
        values: list[tuple[str, Any, str]] = []
        if event == "progress":
            values += [
                ("InputRowsPerSecond", snapshot.get("input_rows_per_second"), "Count/Second"),
                ("ProcessedRowsPerSecond", snapshot.get("processed_rows_per_second"), "Count/Second"),
                ("NumInputRows", snapshot.get("num_input_rows"), "Count"),
                ("BatchDuration", snapshot.get("batch_duration_ms"), "Milliseconds"),
            ]
        if event in ("progress", "idle"):
            lag = snapshot.get("source_lag") or {}
            values += [
                ("MaxMsBehindLatest", lag.get("max_ms_behind_latest"), "Milliseconds"),
                ("AvgMsBehindLatest", lag.get("avg_ms_behind_latest"), "Milliseconds"),
                ("Heartbeat", 1, "Count"),
            ]
        if event == "terminated":
            values.append(("QueryTerminated", 1, "Count"))
            if snapshot.get("state") == "failed":
                values.append(("QueryFailed", 1, "Count"))
        timestamp = datetime.fromisoformat(snapshot["written_at"]) if snapshot.get("written_at") else None
        dimensions = [{"Name": "QueryName", "Value": self.query_name}]
        data = []
        for name, value, unit in values:
            if (number := _number(value)) is None:
                continue
            datum: dict[str, Any] = {
                "MetricName": name,
                "Dimensions": dimensions,
                "Value": number,
                "Unit": unit,
            }
            if timestamp:
                datum["Timestamp"] = timestamp
            data.append(datum)
        return data

    def publish(self, snapshot: Mapping[str, Any]) -> None:
        if data := self.metric_data(snapshot):
            self.client.put_metric_data(Namespace=self.namespace, MetricData=data)
