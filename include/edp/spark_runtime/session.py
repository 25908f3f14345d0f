"""``get_spark(app_name)``: the local SparkSession, a single JVM with Delta from the offline jar cache.

On Glue and Databricks the platform owns the session and ships Delta; a script named there by its
``--engine`` attaches to it (:mod:`edp.spark_runtime.engines`). Locally we build a small single-JVM
session with Delta from the offline jar cache (:mod:`edp.spark_runtime.jars`) and keep every file
Spark writes under ``.platform/spark/`` instead of the working directory.

:func:`local_spark_conf` is the single source of that configuration: ``spark-submit`` command lines
(:mod:`edp.spark_runtime.submit`) use the same mapping, so a script behaves the same either way.
pyspark is imported inside :func:`get_spark` only, to keep importing this module cheap.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from edp.config import get_config
from edp.spark_runtime.jars import local_jars

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CORES_ENV_VAR = "SPARK_LOCAL_CORES"
DRIVER_MEMORY_ENV_VAR = "SPARK_DRIVER_MEMORY"  # the same variable spark-submit itself falls back to
DEFAULT_CORES = 2
DEFAULT_DRIVER_MEMORY = "1536m"  # batch jobs; the streaming job uses 1g (edp_local.runtime.streaming_service)
LOOPBACK = "127.0.0.1"
SHORT_JOB_JIT = "-XX:TieredStopAtLevel=1"  # the client compiler only: fast start, lower peak speed

# WARN and above to stderr; Spark's default profile logs every stage at INFO.
LOG4J2_PROPERTIES = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = stderr
appender.console.type = Console
appender.console.name = stderr
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
# No native Hadoop libraries on developer machines; the pure-Java fallback is expected.
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
"""


def spark_state_dir() -> Path:
    """Warehouse, Derby and log configuration of local sessions: ``.platform/spark/``."""
    return get_config().state_dir / "spark"


def local_cores() -> int:
    raw = os.environ.get(CORES_ENV_VAR, str(DEFAULT_CORES))
    try:
        cores = int(raw)
    except ValueError:
        raise ValueError(f"{CORES_ENV_VAR}={raw!r} is not an integer") from None
    if cores < 1:
        raise ValueError(f"{CORES_ENV_VAR}={raw!r} must be at least 1")
    return cores


def local_master() -> str:
    return f"local[{local_cores()}]"


def _log4j_config(state: Path) -> Path:
    """Materialise the log4j2 file under the state dir (not in the package: jobs may run from a zip)."""
    path = state / "conf" / "log4j2.properties"
    if not path.is_file() or path.read_text() != LOG4J2_PROPERTIES:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(LOG4J2_PROPERTIES)
        tmp.replace(path)
    return path


def local_spark_env() -> dict[str, str]:
    """Process environment a local Spark driver needs, whichever way it is launched."""
    return {
        # Python workers must run the interpreter that has pyspark and our packages, not PATH's python3.
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        # Loopback only: nothing local needs to be reachable from other hosts.
        "SPARK_LOCAL_IP": LOOPBACK,
    }


def local_spark_conf(
    app_name: str, extra_conf: Mapping[str, str] | None = None, *, long_running: bool = False
) -> dict[str, str]:
    """Configuration of a local Delta-enabled session; ``extra_conf`` wins over the defaults.

    :param long_running: a JVM that runs for hours (the streaming job) keeps the JIT's optimising
        compiler; every other local JVM (batch tasks, tests) lives for seconds to minutes.
    """
    state = spark_state_dir()
    java_options = [
        f"-Dderby.system.home={state / 'derby'}",
        f"-Dlog4j2.configurationFile={_log4j_config(state).as_uri()}",
        "-Duser.timezone=UTC",
        # A laptop runs the streaming job and a batch job side by side, each with a heap of 1-1.5 GiB:
        # the serial collector keeps the committed heap and its own bookkeeping far smaller than G1.
        "-XX:+UseSerialGC",
    ]
    if not long_running:
        # C2 compiles Spark's planner for a peak speed a short job never reaches: a small Delta job
        # cost 51 CPU s with it and 31-35 without, on 2 cores (benchmarks/spark_jvm_start.py).
        java_options.append(SHORT_JOB_JIT)
    conf = {
        "spark.master": local_master(),
        "spark.app.name": app_name,
        # Offline: the cached files, never spark.jars.packages (which would resolve against Maven).
        "spark.jars": ",".join(str(jar) for jar in local_jars()),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.driver.memory": os.environ.get(DRIVER_MEMORY_ENV_VAR, DEFAULT_DRIVER_MEMORY),
        # defaultJavaOptions, so callers can still pass spark.driver.extraJavaOptions of their own.
        "spark.driver.defaultJavaOptions": " ".join(java_options),
        "spark.driver.host": LOOPBACK,
        "spark.driver.bindAddress": LOOPBACK,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": str(state / "warehouse"),
        # Tables are addressed by lake path. An embedded Derby metastore admits one JVM at a time,
        # and the streaming job runs next to batch jobs, so the catalog stays in memory.
        "spark.sql.catalogImplementation": "in-memory",
        # Only used if a caller switches to the Hive catalog: keep metastore_db out of the CWD.
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={state / 'metastore_db'};create=true"
        ),
        # Small local tables: replaying the Delta log over the default 50 partitions is pure overhead.
        "spark.databricks.delta.snapshotPartitions": "2",
        # VACUUM lists files through parallel partition discovery, 10,000 tasks by default: 20-40 s per
        # tiny table on local[2], 2 s with a handful.
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": "4",
    }
    conf.update(extra_conf or {})
    return conf


def get_spark(app_name: str, *, extra_conf: Mapping[str, str] | None = None) -> SparkSession:
    """Return the local Delta-enabled SparkSession for ``app_name``.

    Static settings (master, jars, memory) only take effect when this call starts the JVM; later
    calls in the same process get the running session with ``extra_conf`` applied as runtime conf.
    """
    from pyspark.sql import SparkSession  # noqa: PLC0415 - keep importing this module cheap

    builder = SparkSession.builder
    for key, value in local_spark_env().items():
        os.environ.setdefault(key, value)
    for key, value in local_spark_conf(app_name, extra_conf).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
