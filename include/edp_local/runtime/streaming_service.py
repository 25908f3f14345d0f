"""The streaming job as a local component: ``include/spark/stream_events.py`` under local ``spark-submit``.

The component's command is this module (``python -m edp_local.runtime.streaming_service <job args>``), which
builds the ``spark-submit`` command line when the job starts and ``exec``s it, keeping its pid. Building
it there rather than in the registry keeps ``make status`` from building the job wheel or needing the Delta
jar cache, and gives the job the environment of the moment it starts.

The job serves no port: it is healthy when its health file (``edp.lake.streaming_metrics_path``)
shows a heartbeat from this run that is under a minute old, or while it is still within its start-up
grace (see :class:`edp_local.runtime.services.MetricsFreshnessCheck`). The job's arguments come from the
platform configuration given to :func:`streaming_service`, so a supervisor task started with the
``platform_overrides`` Variable applied starts the job with the same stream and lake.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from edp.config import PlatformConfig
from edp.lake import STREAM_EVENTS_QUERY, checkpoint_path, source_metrics_path, streaming_metrics_path
from edp.spark_runtime.engines import LOCAL
from edp_local.runtime.environment import venv_bin
from edp_local.runtime.services import MetricsFreshnessCheck, ServiceSpec

STREAMING_JOB = "streaming-job"
SCRIPT = Path("include") / "spark" / "stream_events.py"
TRIGGER_SECONDS = 3.0
# edp.stream.metrics: a live query writes its health file at least every ~10 s (progress or idle).
HEARTBEAT_MAX_AGE_S = 60.0
# A micro-batch holds at most 2 x 20k records (~40 MB): a 1 GiB heap leaves the batch jobs' JVM the rest
# of a laptop's memory budget (the platform's peak is measured in docs/benchmarks.md).
STREAMING_DRIVER_MEMORY = os.environ.get("STREAMING_DRIVER_MEMORY", "1g")
# A local Spark job needs 20-40 s from spark-submit to its query's start event; more on a busy laptop.
STARTUP_GRACE_S = 120.0
ENDED_STATES = frozenset({"terminated", "failed"})


def job_arguments(config: PlatformConfig) -> list[str]:
    """``stream_events.py`` arguments for the local platform described by ``config``."""
    lake = config.lake.root
    return [
        "--engine",
        LOCAL,
        "--lake-root",
        lake,
        "--checkpoint-dir",
        checkpoint_path(STREAM_EVENTS_QUERY, lake),
        "--stream-name",
        config.stream.name,
        "--region",
        config.stream.region,
        "--endpoint-url",
        config.stream.endpoint_url,
        "--trigger-seconds",
        f"{TRIGGER_SECONDS:g}",
        "--source",
        "kinesis_local",
        "--metrics-sink",
        "file",
        "--metrics-path",
        str(streaming_metrics_path(config)),
        "--source-metrics-path",
        str(source_metrics_path(config)),
    ]


def streaming_health(config: PlatformConfig) -> MetricsFreshnessCheck:
    return MetricsFreshnessCheck(
        path=streaming_metrics_path(config),
        max_age_s=HEARTBEAT_MAX_AGE_S,
        startup_grace_s=STARTUP_GRACE_S,
        field="written_at",
        state_field="state",
        ended_states=ENDED_STATES,
    )


def streaming_service(config: PlatformConfig) -> ServiceSpec:
    python = venv_bin(config, "python")
    metrics = streaming_metrics_path(config)
    return ServiceSpec(
        name=STREAMING_JOB,
        command=(
            python if python != "python" else sys.executable,
            "-m",
            "edp_local.runtime.streaming_service",
            *job_arguments(config),
        ),
        url=metrics.as_uri(),
        health=streaming_health(config),
        info={
            "metrics_file": str(metrics),
            "checkpoint": checkpoint_path(STREAM_EVENTS_QUERY, config.lake.root),
            "trigger": f"{TRIGGER_SECONDS:g}s",
            "kinesis_stream": config.stream.name,
        },
        start_timeout_s=STARTUP_GRACE_S + 60.0,
    )


def launch_argv(arguments: Sequence[str], project_root: Path) -> list[str]:
    """The ``spark-submit`` command line running the streaming job with ``arguments``."""
    from edp.spark_runtime.submit import spark_submit_argv  # noqa: PLC0415 - at launch only

    script = project_root / SCRIPT
    conf = {"spark.driver.memory": STREAMING_DRIVER_MEMORY}
    return spark_submit_argv(script, list(arguments), conf=conf, long_running=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Replace this process with ``spark-submit`` (same pid, so the supervisor's group and pid hold)."""
    from edp.config import get_config  # noqa: PLC0415
    from edp.spark_runtime.submit import spark_submit_env  # noqa: PLC0415

    arguments = list(sys.argv[1:] if argv is None else argv)
    command = launch_argv(arguments, get_config().project_root)
    print("exec:", " ".join(command), flush=True)
    os.execve(command[0], command, spark_submit_env())  # noqa: S606 - argv built from our own config
    return 0  # unreachable: exec replaces this process


if __name__ == "__main__":
    sys.exit(main())
