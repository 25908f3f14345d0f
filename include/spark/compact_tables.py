"""Lake maintenance: OPTIMIZE the bronze/silver partitions a data interval touched, or VACUUM the lake.

Runs unchanged as a Glue 5 job (``--datalake-formats delta``), as a Databricks job and locally under
``spark-submit``. Every option takes a value, as Glue job arguments must::

    compact_tables.py --action optimize --start 2025-06-01T03:00:00+00:00 --end 2025-06-02T03:00:00+00:00 \
        [--target-file-mb 128] [--zorder-silver event_type,session_id] [--zorder-bronze none]
    compact_tables.py --action vacuum [--retention-hours 168]

``optimize`` bin-packs the interval's closed partitions (bronze ``ingest_date``, silver ``event_date``
that received rows in the interval) into files of about ``--target-file-mb``, Z-ordered by the given
columns (``none`` for plain bin-packing). ``vacuum`` removes unreferenced files of every lake table older
than ``--retention-hours``, which may not be below 168 (7 days): lower values are refused.
Prints one JSON summary line on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from edp.batch.cli import (
    add_common_arguments,
    configure_logging,
    job_session,
    parse_job_args,
    stop_local_session,
)
from edp.batch.policy import DEFAULT_TARGET_FILE_MB, DEFAULT_ZORDER, MIN_VACUUM_RETENTION_HOURS
from edp.lake import BRONZE_EVENTS, SILVER_EVENTS
from edp.lake.intervals import parse_interval

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

APP_NAME = "compact_tables"


def _columns(value: str) -> tuple[str, ...]:
    return (
        ()
        if value.strip().lower() in ("", "none")
        else tuple(c.strip() for c in value.split(",") if c.strip())
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=APP_NAME, description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--action", choices=("optimize", "vacuum"), default="optimize")
    parser.add_argument("--start", help="data interval start (ISO-8601, inclusive); optimize only")
    parser.add_argument("--end", help="data interval end (ISO-8601, exclusive); optimize only")
    parser.add_argument(
        "--target-file-mb", type=int, default=DEFAULT_TARGET_FILE_MB, help="bin-packing target"
    )
    parser.add_argument(
        "--zorder-bronze", default=",".join(DEFAULT_ZORDER[BRONZE_EVENTS.name]), help="or 'none'"
    )
    parser.add_argument(
        "--zorder-silver", default=",".join(DEFAULT_ZORDER[SILVER_EVENTS.name]), help="or 'none'"
    )
    parser.add_argument(
        "--retention-hours",
        type=float,
        default=MIN_VACUUM_RETENTION_HOURS,
        help=f"vacuum retention; at least {MIN_VACUUM_RETENTION_HOURS:g} (7 days)",
    )
    args = parse_job_args(parser, argv)
    if args.action == "vacuum" and args.retention_hours < MIN_VACUUM_RETENTION_HOURS:
        parser.error(
            f"--retention-hours {args.retention_hours:g} is below the {MIN_VACUUM_RETENTION_HOURS:g} h "
            "(7 days) floor; VACUUM with a shorter retention would delete files that time travel, "
            "running readers and the streaming job may still need"
        )
    if args.action == "optimize":
        if not (args.start and args.end):
            parser.error("--action optimize needs --start and --end")
        try:
            args.interval = parse_interval(args.start, args.end)
        except ValueError as exc:
            parser.error(str(exc))
        if args.target_file_mb < 1:
            parser.error("--target-file-mb must be at least 1")
    return args


def optimize(spark: SparkSession, args: argparse.Namespace) -> dict[str, Any]:
    from edp.batch import compaction  # noqa: PLC0415 - needs pyspark

    compaction.set_target_file_size(spark, args.target_file_mb)
    silver = spark.read.format("delta").load(SILVER_EVENTS.path(args.lake_root))
    targets = [
        (BRONZE_EVENTS, compaction.bronze_partitions(args.interval), _columns(args.zorder_bronze)),
        (SILVER_EVENTS, compaction.silver_partitions(silver, args.interval), _columns(args.zorder_silver)),
    ]
    results = [
        r.to_dict()
        for spec, partitions, zorder in targets
        for r in compaction.optimize_partitions(spark, spec, args.lake_root, partitions, zorder)
    ]
    return {"action": "optimize", "interval": str(args.interval), "partitions": results}


def vacuum(spark: SparkSession, args: argparse.Namespace) -> dict[str, Any]:
    from edp.batch import compaction  # noqa: PLC0415
    from edp.lake import TABLES  # noqa: PLC0415
    from edp.lake.gold import GOLD_TABLES  # noqa: PLC0415

    specs = list({spec.name: spec for spec in [*TABLES.values(), *GOLD_TABLES.values()]}.values())
    done = compaction.vacuum_tables(spark, specs, args.lake_root, args.retention_hours)
    return {"action": "vacuum", "retention_hours": args.retention_hours, "tables": sorted(done)}


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    spark = job_session(APP_NAME, args)
    try:
        summary = optimize(spark, args) if args.action == "optimize" else vacuum(spark, args)
    finally:
        stop_local_session(spark, args)
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
