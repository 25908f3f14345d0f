"""Replay bronze -> silver for a date range, through the streaming job's own transforms.

Runs unchanged as a Glue 5 job (``--datalake-formats delta``, ``--additional-python-modules
orjson,fastjsonschema``), as a Databricks job and locally under ``spark-submit``::

    replay_silver.py --start-date 2025-06-01 --end-date 2025-06-03 --mode merge [--run-id <id>]
    replay_silver.py --start-date 2025-06-01 --end-date 2025-06-03 --mode rebuild \
        [--ingest-lag-days 7] [--allow-drop false]

``merge`` (default) re-derives silver from bronze ``ingest_date`` partitions in the range and inserts
the missing rows (insert-only MERGE, idempotent). ``rebuild`` replaces silver ``event_date`` partitions
in the range atomically with rows re-derived from bronze; see ``edp.batch.replay``. The PII salt comes
from ``PII_HASH_SALT`` / ``PII_HASH_SALT_SECRET_ID`` (``--pii-salt-secret-id`` sets the latter).
Prints one JSON summary line on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Sequence
from datetime import date

from edp.batch.cli import (
    add_common_arguments,
    configure_logging,
    job_session,
    parse_job_args,
    stop_local_session,
)
from edp.lake.intervals import MAX_INTERVAL_DAYS

APP_NAME = "replay_silver"
MODES = ("merge", "rebuild")
SECRET_ID_VAR = "PII_HASH_SALT_SECRET_ID"  # noqa: S105 - a variable name (edp.stream.pii reads it)


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
    return lowered == "true"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=APP_NAME, description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--start-date", type=date.fromisoformat, required=True, help="first date (inclusive)")
    parser.add_argument("--end-date", type=date.fromisoformat, required=True, help="last date (inclusive)")
    parser.add_argument("--mode", choices=MODES, default="merge")
    parser.add_argument(
        "--run-id", default="", help="replay run id, e.g. the Airflow run id (default: random)"
    )
    parser.add_argument(
        "--ingest-lag-days", type=int, default=7, help="rebuild: max stream lag behind Kinesis"
    )
    parser.add_argument("--allow-drop", type=_bool, default=False, help="rebuild: may drop unreproduced rows")
    parser.add_argument("--pii-salt-secret-id", default="", help="Secrets Manager id of the PII hash salt")
    args = parse_job_args(parser, argv)
    if args.end_date < args.start_date:
        parser.error(f"--end-date {args.end_date} is before --start-date {args.start_date}")
    if (args.end_date - args.start_date).days >= MAX_INTERVAL_DAYS:
        parser.error(f"a replay covers at most {MAX_INTERVAL_DAYS} days; split the range")
    if args.ingest_lag_days < 0:
        parser.error("--ingest-lag-days must be >= 0")
    if args.pii_salt_secret_id:
        os.environ[SECRET_ID_VAR] = args.pii_salt_secret_id
    args.run_id = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in args.run_id) or uuid.uuid4().hex
    return args


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    from edp.batch import replay  # noqa: PLC0415 - needs pyspark
    from edp.stream.pii import load_pii_salt  # noqa: PLC0415

    salt = load_pii_salt(config=args.config)  # before the JVM starts: a missing salt fails fast
    spark = job_session(APP_NAME, args)
    try:
        if args.mode == "merge":
            result = replay.replay_merge(
                spark, args.lake_root, args.start_date, args.end_date, salt, args.run_id
            )
        else:
            result = replay.replay_rebuild(
                spark,
                args.lake_root,
                args.start_date,
                args.end_date,
                salt,
                ingest_lag_days=args.ingest_lag_days,
                allow_drop=args.allow_drop,
            )
    finally:
        stop_local_session(spark, args)
    print(json.dumps(result.to_dict(), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
