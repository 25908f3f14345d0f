"""Streaming ingest: Kinesis -> bronze / silver / quarantine Delta tables, with health metrics.

Runs unchanged as a Databricks job (``spark_python_task`` with ``--engine databricks --platform-env aws``:
source ``format("kinesis")``, CloudWatch metrics) and locally under ``spark-submit`` (``--engine local``,
the default: source ``format("kinesis_local")`` against moto's Kinesis), e.g.::

    argv = spark_submit_argv(Path("include/spark/stream_events.py"), ["--available-now"])

Each micro-batch goes through :class:`edp.stream.writer.MicroBatchWriter` (idempotent appends and
an insert-only MERGE); tables, checkpoint and metrics locations come from :mod:`edp.lake`.
``--available-now`` processes what the stream holds at start and exits (tests, backfills); otherwise a
processing-time trigger runs until SIGTERM/SIGINT, which stops the query cleanly between batches.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from edp.config import Environment, get_config
from edp.lake import STREAM_EVENTS_QUERY, checkpoint_path, source_metrics_path, streaming_metrics_path
from edp.resources import resources
from edp.spark_runtime.engines import ENGINE_ARG, ENGINES, LOCAL, engine_named

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from edp.stream.metrics import MetricsSink

DEFAULT_TRIGGER_SECONDS = 3.0
# Admission control per micro-batch. A backlog drains in large batches because each batch costs ~3.8 s
# of fixed Spark/Delta work (docs/benchmarks.md); live traffic never fills them, so freshness is unchanged.
DEFAULT_MAX_RECORDS_PER_SHARD = 20_000
POLL_SECONDS = 1.0

log = logging.getLogger("stream_events")


def _platform_env(argv: Sequence[str] | None) -> str | None:
    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument("--platform-env", choices=[env.value for env in Environment])
    return probe.parse_known_args(argv)[0].platform_env


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    cfg = get_config(env=_platform_env(argv))
    parser = argparse.ArgumentParser(prog="stream_events", description=__doc__.splitlines()[0])
    parser.add_argument(
        ENGINE_ARG, choices=sorted(ENGINES), default=LOCAL, help="where this run executes (its launcher says)"
    )
    parser.add_argument(
        "--platform-env",
        choices=[env.value for env in Environment],
        help="the environment of this run (the Databricks job passes 'aws'); default PLATFORM_ENV",
    )
    parser.add_argument("--lake-root", default=cfg.lake.root, help="lake root (default: platform config)")
    parser.add_argument("--checkpoint-dir", help="default: <lake root>/_checkpoints/stream_events")
    parser.add_argument("--stream-name", default=cfg.stream.name)
    parser.add_argument("--region", default=cfg.stream.region)
    parser.add_argument(
        "--endpoint-url", default=cfg.stream.endpoint_url, help="Kinesis endpoint (kinesis_local)"
    )
    parser.add_argument("--trigger-seconds", type=float, default=DEFAULT_TRIGGER_SECONDS)
    parser.add_argument("--max-records-per-shard", type=int, default=DEFAULT_MAX_RECORDS_PER_SHARD)
    parser.add_argument("--initial-position", choices=("trim_horizon", "latest"), default="trim_horizon")
    parser.add_argument(
        "--source",
        choices=("auto", "kinesis", "kinesis_local"),
        default="auto",
        help="auto: the engine's (Databricks' own kinesis with --engine databricks, else kinesis_local)",
    )
    parser.add_argument("--available-now", action="store_true", help="process what is there, then stop")
    parser.add_argument("--query-name", default=STREAM_EVENTS_QUERY)
    parser.add_argument(
        "--metrics-sink",
        choices=("auto", "file", "cloudwatch", "none"),
        default="auto",
        help="auto: the environment's metrics sink (cloudwatch on AWS, file locally)",
    )
    parser.add_argument("--metrics-path", help="health file (default: <state dir>/streaming/metrics.json)")
    parser.add_argument(
        "--source-metrics-path", help="kinesis_local metricsPath (default: next to --metrics-path)"
    )
    args = parser.parse_args(argv)
    if args.trigger_seconds <= 0 or args.max_records_per_shard < 1:
        parser.error("--trigger-seconds must be > 0 and --max-records-per-shard >= 1")
    args.checkpoint_dir = args.checkpoint_dir or checkpoint_path(args.query_name, args.lake_root)
    args.metrics_path = args.metrics_path or str(streaming_metrics_path(cfg))
    args.source_metrics_path = args.source_metrics_path or str(
        Path(args.metrics_path).parent / source_metrics_path(cfg).name
    )
    args.config = cfg
    args.spark_engine = engine_named(args.engine)
    if args.source == "auto":
        args.source = args.spark_engine.kinesis_format
    if args.metrics_sink == "auto":
        args.metrics_sink = resources(cfg).metrics.streaming_sink
    return args


def read_stream(spark: SparkSession, args: argparse.Namespace) -> DataFrame:
    """The Kinesis stream as rows of ``edp.stream.transforms.KINESIS_RECORD_SCHEMA``."""
    if args.source == "kinesis":
        reader = (
            spark.readStream.format("kinesis")
            .option("streamName", args.stream_name)
            .option("region", args.region)
            .option("initialPosition", args.initial_position)
            .option("maxRecordsPerFetch", str(min(args.max_records_per_shard, 10_000)))
        )
        if args.endpoint_url:
            reader = reader.option("endpoint", args.endpoint_url)
        return reader.load()

    import edp.stream.kinesis_source as kinesis_source  # noqa: PLC0415 - the local source only; Databricks ships its own

    kinesis_source.register(spark)
    reader = (
        spark.readStream.format(kinesis_source.FORMAT_NAME)
        .option("streamName", args.stream_name)
        .option("region", args.region)
        .option("initialPosition", args.initial_position)
        .option("maxRecordsPerShard", str(args.max_records_per_shard))
        .option("metricsPath", args.source_metrics_path)
    )
    if args.endpoint_url:
        reader = reader.option("endpointUrl", args.endpoint_url)
    return reader.load()


def metrics_sink(args: argparse.Namespace) -> MetricsSink | None:
    from edp.stream.metrics import CloudWatchSink, FileSink  # noqa: PLC0415

    if args.metrics_sink == "file":
        return FileSink(args.metrics_path)
    if args.metrics_sink == "cloudwatch":
        return CloudWatchSink(args.query_name, region=args.region)
    return None


def _progress_dict(progress: Any) -> dict[str, Any] | None:
    if progress is None:
        return None
    return json.loads(progress.json) if hasattr(progress, "json") else dict(progress)


class _StopRequest:
    """SIGTERM/SIGINT set a flag; the main loop stops the query between two polls (never mid-call)."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping the query after the current batch", signum)
        self.requested = True


def run(spark: SparkSession, args: argparse.Namespace) -> StreamingQuery:
    """Start the query, wait for it to end (bounded run or stop signal), and return it."""
    from edp.stream.listener import StreamingHealthListener  # noqa: PLC0415
    from edp.stream.metrics import HealthTracker, lag_from_progress, lag_from_source_file  # noqa: PLC0415
    from edp.stream.pii import load_pii_salt  # noqa: PLC0415
    from edp.stream.tables import ensure_streaming_tables  # noqa: PLC0415
    from edp.stream.writer import MicroBatchWriter  # noqa: PLC0415

    salt = load_pii_salt(config=args.config)
    ensure_streaming_tables(spark, args.lake_root)
    tracker = listener = None
    if sink := metrics_sink(args):
        local_lag = args.source == "kinesis_local"
        lag = (
            (lambda _progress: lag_from_source_file(args.source_metrics_path))
            if local_lag
            else lag_from_progress
        )
        tracker = HealthTracker(sink, args.query_name, source_lag=lag)
        listener = StreamingHealthListener(tracker)
        spark.streams.addListener(listener)

    writer = (
        read_stream(spark, args)
        .writeStream.queryName(args.query_name)
        .foreachBatch(
            MicroBatchWriter(
                args.lake_root, salt, query_name=args.query_name, checkpoint_dir=args.checkpoint_dir
            )
        )
        .option("checkpointLocation", args.checkpoint_dir)
    )
    trigger = (
        {"availableNow": True}
        if args.available_now
        else {"processingTime": f"{args.trigger_seconds} seconds"}
    )
    stop = _StopRequest()
    query = writer.trigger(**trigger).start()
    log.info("query %s started (id %s, run %s)", args.query_name, query.id, query.runId)
    try:
        while not query.awaitTermination(POLL_SECONDS):
            if stop.requested:
                query.stop()
    finally:
        if tracker is not None and listener is not None:
            # Listener events are asynchronous: detach, then record the final state here.
            spark.streams.removeListener(listener)
            if (last := _progress_dict(query.lastProgress)) is not None:
                tracker.progress(last)
            error = query.exception()
            tracker.terminated(str(error) if error else None)
    return query


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    spark = args.spark_engine.session(args.query_name, {"spark.sql.session.timeZone": "UTC"})
    try:
        run(spark, args)  # raises StreamingQueryException if the query failed
    finally:
        args.spark_engine.stop(spark)  # Databricks owns its session; locally, end the JVM cleanly
    log.info("query %s stopped", args.query_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
