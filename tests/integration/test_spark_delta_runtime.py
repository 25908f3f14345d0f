"""The local Spark runtime: Delta tables, offline jars and spark-submit of our entry-point scripts."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from edp.spark_runtime.jars import jars_dir, local_jars
from edp.spark_runtime.submit import spark_submit_argv, spark_submit_env

pytestmark = pytest.mark.integration

EVENT_SCHEMA = "event_id STRING, event_type STRING, user_id INT"

SUBMITTED_SCRIPT = textwrap.dedent(
    """
    import sys

    import edp.config
    import edp.spark_runtime
    from edp.spark_runtime.session import get_spark

    spark = get_spark("submit-smoke")
    spark.createDataFrame(
        [(i, f"event-{i}") for i in range(3)], "id INT, name STRING"
    ).write.format("delta").save(sys.argv[1])
    # Python workers must import from the wheel too, not just the driver.
    worker_path = spark.sparkContext.parallelize([0], 1).map(
        lambda _: __import__("edp.config").config.__file__
    ).first()
    print("driver-packages:", edp.spark_runtime.__file__, edp.config.__file__)
    print("worker-packages:", worker_path)
    print("jars-packages:", spark.sparkContext.getConf().get("spark.jars.packages"))
    spark.stop()
    """
)


def _events(spark: SparkSession, *rows: tuple[str, str, int]) -> DataFrame:
    return spark.createDataFrame(list(rows), EVENT_SCHEMA)


def test_delta_table_round_trip_reads_back_both_writes_as_two_versions(
    spark: SparkSession, lake_dir: Path
) -> None:
    path = str(lake_dir / "events")
    first = _events(spark, ("e1", "page_view", 1), ("e2", "click", 2))
    second = _events(spark, ("e3", "purchase", 1))

    first.write.format("delta").save(path)
    second.write.format("delta").mode("append").save(path)

    assertDataFrameEqual(spark.read.format("delta").load(path), first.unionByName(second))
    history = DeltaTable.forPath(spark, path).history().select("version", "operation").collect()
    assert sorted((row.version, row.operation) for row in history) == [(0, "WRITE"), (1, "WRITE")]


def test_repeated_write_with_the_same_txn_version_is_applied_once(
    spark: SparkSession, lake_dir: Path
) -> None:
    """What the streaming job relies on: a retried micro-batch (same txnAppId/txnVersion) is skipped."""
    path = str(lake_dir / "bronze_events")
    batch = _events(spark, ("e1", "page_view", 1), ("e2", "click", 2))

    def write(txn_version: int) -> None:
        (
            batch.write.format("delta")
            .mode("append")
            .option("txnAppId", "bronze-ingest")
            .option("txnVersion", txn_version)
            .save(path)
        )

    write(7)
    write(7)
    assertDataFrameEqual(spark.read.format("delta").load(path), batch)

    write(8)
    assert spark.read.format("delta").load(path).count() == 2 * batch.count()
    assert len(DeltaTable.forPath(spark, path).history().collect()) == 2


def test_local_session_loads_delta_from_the_cached_jars_and_never_from_maven(spark: SparkSession) -> None:
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.jars.packages") is None
    assert conf.get("spark.jars.ivy") is None
    assert [Path(jar) for jar in conf.get("spark.jars").split(",")] == local_jars()
    assert all(jar.is_file() and jar.parent == jars_dir() for jar in local_jars())

    jvm = spark.sparkContext._jvm
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    delta_class = jvm.java.lang.Class.forName("io.delta.sql.DeltaSparkSessionExtension", False, loader)
    origin = delta_class.getProtectionDomain().getCodeSource().getLocation().getPath()
    assert Path(origin).parent == jars_dir()
    assert spark.conf.get("spark.sql.extensions") == "io.delta.sql.DeltaSparkSessionExtension"


def test_script_run_through_spark_submit_writes_a_delta_table_importing_edp_from_the_job_wheel(
    spark: SparkSession, lake_dir: Path, tmp_path: Path
) -> None:
    script = tmp_path / "write_table.py"
    script.write_text(SUBMITTED_SCRIPT)
    table = lake_dir / "submitted"
    argv = spark_submit_argv(script, [str(table)])
    # Without include/ on PYTHONPATH, the driver and workers can only import edp from the wheel.
    env = spark_submit_env({k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    wheel = argv[argv.index("--py-files") + 1]

    assert wheel.endswith(".whl") and Path(wheel).is_file()
    assert "--packages" not in argv
    assert not any(arg.startswith("spark.jars.packages") for arg in argv)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)

    assert done.returncode == 0, done.stderr[-4000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert lines["jars-packages"] == "None"
    driver_paths = lines["driver-packages"].split()
    assert len(driver_paths) == 2 and all(path.startswith(f"{wheel}/edp/") for path in driver_paths)
    assert lines["worker-packages"].startswith(f"{wheel}/edp/config/")
    expected = spark.createDataFrame([(i, f"event-{i}") for i in range(3)], "id INT, name STRING")
    assertDataFrameEqual(spark.read.format("delta").load(str(table)), expected)
