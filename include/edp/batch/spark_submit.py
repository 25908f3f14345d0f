"""``SparkSubmitLocalOperator``: run one of our PySpark entry points under the local ``spark-submit``.

The local twin of ``GlueJobOperator`` / ``DatabricksRunNowOperator``: the very script those run, with
the command line of :func:`edp.spark_runtime.submit.spark_submit_argv` (local master, offline Delta jars,
the job wheel as ``--py-files``) and :func:`edp.spark_runtime.submit.spark_submit_env`.

Why not the ``apache-airflow-providers-apache-spark`` ``SparkSubmitOperator``: its hook only runs a
binary named ``spark-submit``/``spark2-submit``/``spark3-submit`` found on ``PATH`` and takes the master
from an Airflow connection, so it would bypass the Spark home pinned to our pyspark, and every job's
jars, ``--py-files`` wheel, driver options and environment would have to be rebuilt in its arguments,
duplicating ``spark_runtime``. This operator is a subprocess call on top of the one place that already
knows how to launch our scripts, and it needs no extra dependency.

The driver runs in its own process group: killing the task (timeout, mark-failed) ends the JVM and its
Python workers too. Output is streamed to the task log line by line; the last lines are quoted in the
error when the job fails.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

TAIL_LINES = 40
KILL_GRACE_S = 30


class SparkSubmitFailedError(RuntimeError):
    """The spark-submit process exited with a non-zero status."""


def json_object(line: str) -> dict[str, Any] | None:
    """``line`` as a JSON object, else ``None``: our jobs print their summary as one such line."""
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class SparkSubmitLocalOperator(BaseOperator):
    """Run ``script`` with ``application_args`` under the local ``spark-submit``.

    :param script: the entry point, absolute or relative to the project root (``include/spark/x.py``).
    :param application_args: arguments after the script (templated).
    :param conf: Spark configuration overriding the local defaults.
    :param env: extra environment variables for the driver (templated).
    """

    template_fields: Sequence[str] = ("application_args", "env")
    ui_color = "#fdf2e8"

    def __init__(
        self,
        *,
        script: str,
        application_args: Sequence[str] = (),
        conf: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.script = script
        self.application_args = list(application_args)
        self.conf = dict(conf or {})
        self.env = dict(env or {})
        self._process: subprocess.Popen[str] | None = None

    def command(self) -> tuple[list[str], dict[str, str]]:
        """argv and environment of the spark-submit call (builds the job wheel if its sources changed)."""
        from edp.config import get_config  # noqa: PLC0415 - task-time only
        from edp.spark_runtime.submit import spark_submit_argv, spark_submit_env  # noqa: PLC0415

        script = Path(self.script)
        if not script.is_absolute():
            script = get_config().project_root / script
        argv = spark_submit_argv(script, [str(a) for a in self.application_args], conf=self.conf)
        env = spark_submit_env()
        env.update({key: str(value) for key, value in self.env.items()})
        return argv, env

    def execute(self, context: Context) -> dict[str, Any] | None:
        """Run the job; return its JSON summary (the last JSON-object line it printed) for XCom."""
        argv, env = self.command()
        self.log.info("Running %s", " ".join(argv))
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._process = subprocess.Popen(  # noqa: S603 - argv built by spark_runtime, no shell
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        assert self._process.stdout is not None
        summary = None
        for line in self._process.stdout:
            line = line.rstrip()
            tail.append(line)
            summary = json_object(line) or summary
            self.log.info("%s", line)
        code = self._process.wait()
        if code != 0:
            raise SparkSubmitFailedError(
                f"{Path(self.script).name} exited with {code}; last output:\n" + "\n".join(tail)
            )
        return summary

    def on_kill(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
