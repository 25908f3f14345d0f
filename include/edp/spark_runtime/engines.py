"""Where a Spark entry point runs, named by its launcher: ``--engine local|glue|databricks``.

The launcher knows where it runs the script, so it says so: the batch task factory passes the
environment's batch engine (:mod:`edp.resources`, ``batch``), the local runtime passes ``local``, and
the Databricks streaming job's parameters pass ``databricks``. Nothing sniffs the process environment.

| engine | session | arguments | Kinesis source | session end |
| --- | --- | --- | --- | --- |
| ``local`` | a local Delta-enabled JVM (:func:`edp.spark_runtime.session.get_spark`) | strict | ``kinesis_local`` (ours) | stopped by the script |
| ``glue`` | Glue's own (``--datalake-formats delta`` and ``--conf``) | Glue's additions ignored | ``kinesis_local`` | Glue's |
| ``databricks`` | the runtime's, attached to | strict | ``kinesis`` (Databricks') | the runtime's |

Glue adds ``--JOB_NAME``, ``--JOB_RUN_ID``, ``--TempDir`` and every job default argument to
``sys.argv``, so only there are unknown arguments ignored. Standard library at import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOCAL, GLUE, DATABRICKS = "local", "glue", "databricks"
ENGINE_ARG = "--engine"


@dataclasses.dataclass(frozen=True)
class SparkEngine:
    """How a script gets and ends its session, and what the platform provides, on one engine."""

    name: str
    builds_session: bool  # True: we start (and must stop) the JVM; False: the platform owns the session
    ignores_unknown_arguments: bool
    kinesis_format: str

    def session(self, app_name: str, conf: Mapping[str, str] | None = None) -> SparkSession:
        """The session, with ``conf`` applied (as runtime conf where the platform built the session)."""
        if self.builds_session:
            from edp.spark_runtime.session import get_spark  # noqa: PLC0415 - pyspark on first use

            spark = get_spark(app_name, extra_conf=conf)
        else:
            from pyspark.sql import SparkSession  # noqa: PLC0415

            spark = SparkSession.builder.appName(app_name).getOrCreate()
        for key, value in (conf or {}).items():  # an attached session may have other defaults
            spark.conf.set(key, value)
        return spark

    def stop(self, spark: SparkSession) -> None:
        """End the JVM we started; Glue and Databricks own theirs."""
        if self.builds_session:
            spark.stop()


ENGINES = {
    LOCAL: SparkEngine(
        LOCAL, builds_session=True, ignores_unknown_arguments=False, kinesis_format="kinesis_local"
    ),
    GLUE: SparkEngine(
        GLUE, builds_session=False, ignores_unknown_arguments=True, kinesis_format="kinesis_local"
    ),
    DATABRICKS: SparkEngine(
        DATABRICKS, builds_session=False, ignores_unknown_arguments=False, kinesis_format="kinesis"
    ),
}


def engine_named(name: str) -> SparkEngine:
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown Spark engine {name!r}; one of {sorted(ENGINES)}") from None
