"""What every batch entry point shares: argument parsing that survives Glue, the environment, the session.

The same script runs three ways, and each passes arguments differently:

* locally, ``spark-submit script.py --start ... --end ...``: unknown arguments are an error;
* as a Databricks job, the job's ``python_params``: the same list;
* as a Glue 5 job, Glue adds its own ``--JOB_NAME``, ``--JOB_RUN_ID``, ``--TempDir`` and every job
  default argument (``--datalake-formats``, ``--extra-py-files``, the provider's ``--airflow_task_uuid``)
  to ``sys.argv``. Only there (recognised by ``--JOB_RUN_ID``) are unknown arguments ignored.
  Glue arguments are key/value pairs, so every option of our scripts takes a value (no bare flags).

``--platform-env`` sets ``PLATFORM_ENV`` before ``platform_config`` is read: on Glue and Databricks
nothing else tells the code that it runs on AWS (and, e.g., must not fall back to the development PII
salt). Standard library at import; pyspark loads in :func:`job_session`.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from edp.config.settings import ENV_VAR, Environment

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

GLUE_RUN_ID_ARG = "--JOB_RUN_ID"
UTC_CONF = {"spark.sql.session.timeZone": "UTC"}

log = logging.getLogger(__name__)


def on_glue(argv: Sequence[str]) -> bool:
    """Glue passes ``--JOB_RUN_ID <id>`` to every job run's script."""
    return any(arg == GLUE_RUN_ID_ARG or arg.startswith(f"{GLUE_RUN_ID_ARG}=") for arg in argv)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--platform-env",
        choices=[env.value for env in Environment],
        help="set PLATFORM_ENV for this run (Glue/Databricks jobs pass 'aws')",
    )
    parser.add_argument("--lake-root", help="lake root (default: platform config for the environment)")


def parse_job_args(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv``; on Glue, drop the arguments Glue adds instead of failing on them."""
    if not on_glue(argv):
        args = parser.parse_args(argv)
    else:
        args, ignored = parser.parse_known_args(argv)
        log.info("running on Glue; ignoring %d Glue-supplied arguments", len(ignored))
    if args.platform_env:
        os.environ[ENV_VAR] = args.platform_env
    if not args.lake_root:
        from edp.config import get_config  # noqa: PLC0415 - after PLATFORM_ENV is final

        args.lake_root = get_config().lake.root
    return args


def job_session(app_name: str, argv: Sequence[str]) -> SparkSession:
    """The session: Glue's own (configured by ``--datalake-formats delta`` and ``--conf``), else ours."""
    if on_glue(argv):
        from pyspark.sql import SparkSession  # noqa: PLC0415

        spark = SparkSession.builder.appName(app_name).getOrCreate()
        for key, value in UTC_CONF.items():
            spark.conf.set(key, value)
        return spark
    from edp.spark_runtime.session import get_spark  # noqa: PLC0415 - Databricks-aware, local Delta otherwise

    spark = get_spark(app_name, extra_conf=UTC_CONF)
    for key, value in UTC_CONF.items():  # an attached (Databricks) session may have another zone
        spark.conf.set(key, value)
    return spark


def stop_local_session(spark: SparkSession, argv: Sequence[str]) -> None:
    """End the JVM of a local run; Glue and Databricks own their sessions."""
    from edp.spark_runtime.session import on_databricks  # noqa: PLC0415

    if not on_glue(argv) and not on_databricks():
        spark.stop()


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
