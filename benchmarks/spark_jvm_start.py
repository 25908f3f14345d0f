"""A short local Spark job under ``spark-submit``: the client JIT only (what batch tasks and tests run
with) against the JVM's default tiered JIT (what the long-running streaming job keeps), same run.

Every batch task of the local platform and most integration tests start one such JVM, so its fixed
cost multiplies: ``make demo`` starts about ten, ``make test`` several dozen. The job writes a small
Delta table and reads it back; each variant runs ``--repeats`` times, alternating, and the table
reports the medians of wall time and of CPU time (the JVM, its Python workers and the driver script).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from edp.spark_runtime.submit import spark_submit_argv, spark_submit_env

JOB = """\
import sys
from edp.spark_runtime.session import get_spark
spark = get_spark("benchmark-jvm-start")
spark.range(1000).selectExpr("id", "id % 7 AS k").write.format("delta").mode("overwrite").save(sys.argv[1])
assert spark.read.format("delta").load(sys.argv[1]).groupBy("k").count().count() == 7
"""


def one_run(script: Path, table: Path, *, long_running: bool) -> tuple[float, float]:
    argv = spark_submit_argv(script, [str(table)], long_running=long_running)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(argv, env=spark_submit_env(), check=True, capture_output=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    samples: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="bench-jvm-") as tmp:
        script = Path(tmp) / "job.py"
        script.write_text(JOB)
        for i in range(args.repeats):
            for long_running in (True, False):
                table = Path(tmp) / f"t-{long_running}-{i}"
                samples[long_running].append(one_run(script, table, long_running=long_running))
    rows = []
    for long_running, label in ((True, "default tiered JIT (baseline)"), (False, "client JIT only")):
        walls, cpus = zip(*samples[long_running], strict=True)
        rows.append((label, statistics.median(walls), statistics.median(cpus)))
    base_cpu = rows[0][2]
    print("### Spark JVM start: one short Delta job under spark-submit\n")
    print(f"{args.repeats} runs each, alternating; medians.\n")
    print("| JIT | wall s | CPU s | CPU vs baseline |")
    print("|---|---:|---:|---:|")
    for label, wall, cpu in rows:
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {cpu / base_cpu:.2f}x |")


if __name__ == "__main__":
    main()
