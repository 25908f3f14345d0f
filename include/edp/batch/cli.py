"""What every batch entry point shares: its engine and environment arguments, and its session.

The same script runs three ways, and its launcher says which with ``--engine``
(:mod:`edp.spark_runtime.engines`): locally under ``spark-submit`` (unknown arguments are an error),
as a Databricks job (``python_params``: the same list), or as a Glue 5 job, where Glue adds its own
arguments and every job default argument to ``sys.argv``, which are then ignored. Glue arguments are
key/value pairs, so every option of our scripts takes a value (no bare flags).

``--platform-env`` names the environment of the run (Glue and Databricks jobs pass ``aws``): the
configuration is built for it (``args.config``) and handed down explicitly, so, e.g., the PII salt never
falls back to a development value on AWS. Nothing is written to ``os.environ``. Standard library at
import; pyspark loads in :func:`job_session`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from edp.config import Environment, get_config
from edp.spark_runtime.engines import ENGINE_ARG, ENGINES, LOCAL, engine_named

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

UTC_CONF = {"spark.sql.session.timeZone": "UTC"}

log = logging.getLogger(__name__)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        ENGINE_ARG,
        choices=sorted(ENGINES),
        default=LOCAL,
        help="where this run executes, as its launcher knows (Glue jobs pass 'glue')",
    )
    parser.add_argument(
        "--platform-env",
        choices=[env.value for env in Environment],
        help="the environment of this run (Glue/Databricks jobs pass 'aws'); default PLATFORM_ENV",
    )
    parser.add_argument("--lake-root", help="lake root (default: platform config for the environment)")


def _engine_of(argv: Sequence[str]) -> str:
    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument(ENGINE_ARG, default=LOCAL)
    known, _ = probe.parse_known_args(argv)
    return known.engine


def parse_job_args(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv``; on Glue, drop the arguments Glue adds instead of failing on them.

    Adds ``args.config`` (the platform configuration of ``--platform-env``) and ``args.spark_engine``.
    """
    engine = ENGINES.get(_engine_of(argv))  # an unknown name is refused by the parse below
    if engine is None or not engine.ignores_unknown_arguments:
        args = parser.parse_args(argv)
    else:
        args, ignored = parser.parse_known_args(argv)
        log.info("running on %s; ignoring %d arguments it supplied", engine.name, len(ignored))
    args.spark_engine = engine_named(args.engine)
    args.config = get_config(env=args.platform_env)
    args.lake_root = args.lake_root or args.config.lake.root
    return args


def job_session(app_name: str, args: argparse.Namespace) -> SparkSession:
    """The engine's session with the platform's session settings (UTC)."""
    return args.spark_engine.session(app_name, UTC_CONF)


def stop_local_session(spark: SparkSession, args: argparse.Namespace) -> None:
    """End the JVM of a local run; Glue and Databricks own their sessions."""
    args.spark_engine.stop(spark)


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
