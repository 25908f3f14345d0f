"""Gold build: rebuild the gold tables' ``event_date`` partitions for one data interval from silver.

Runs unchanged as a Glue 5 job (``--datalake-formats delta``), as a Databricks job and locally under
``spark-submit``; the Airflow DAG ``gold_build`` passes the run's data interval::

    build_gold.py --start 2025-06-01T10:00:00+00:00 --end 2025-06-01T11:00:00+00:00 [--tables sessions,funnel_daily]

Which partitions an interval rebuilds (its dates, the dates of late rows that arrived in it, and what
WAU and sessions need around them) is defined in ``edp.lake.intervals.GoldPlan``; each table's
partitions are replaced in one Delta ``replaceWhere`` commit, so a rerun yields identical tables.
Prints one JSON summary line on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from edp.batch.cli import (
    add_common_arguments,
    configure_logging,
    job_session,
    parse_job_args,
    stop_local_session,
)
from edp.lake.intervals import parse_interval

APP_NAME = "build_gold"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=APP_NAME, description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--start", required=True, help="data interval start (ISO-8601, inclusive)")
    parser.add_argument("--end", required=True, help="data interval end (ISO-8601, exclusive)")
    parser.add_argument("--tables", default="", help="comma-separated gold tables to rebuild (default: all)")
    args = parse_job_args(parser, argv)
    try:
        args.interval = parse_interval(args.start, args.end)
    except ValueError as exc:
        parser.error(str(exc))
    args.table_names = [name.strip() for name in args.tables.split(",") if name.strip()]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    from edp.batch.gold_build import build_gold_tables, select_tables  # noqa: PLC0415 - needs pyspark

    tables = select_tables(args.table_names)
    spark = job_session(APP_NAME, args)
    try:
        summary = build_gold_tables(spark, args.lake_root, args.interval, tables)
    finally:
        stop_local_session(spark, args)
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
