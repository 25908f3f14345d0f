"""``spark-submit`` command lines for our PySpark entry-point scripts, run locally.

Airflow tasks and the local runtime run the very script Databricks runs, through the
``spark-submit`` shipped inside the pyspark package, with the configuration of
:func:`edp.spark_runtime.session.local_spark_conf` and the job wheel of
:mod:`edp.spark_runtime.wheel` as ``--py-files`` (the artifact Glue and Databricks receive too).
Typical use::

    argv = spark_submit_argv(script, ["--date", ds])
    subprocess.run(argv, env=spark_submit_env(), check=True)
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from edp.config import get_config
from edp.config.settings import PROJECT_ROOT_VAR
from edp.spark_runtime.session import local_spark_conf, local_spark_env
from edp.spark_runtime.wheel import build_job_wheel

WORKER_PYTHONPATH = "spark.executorEnv.PYTHONPATH"
_FLAG_KEYS = {"spark.master": "--master", "spark.app.name": "--name"}


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark package (found without importing it)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pyspark is not installed in this interpreter; run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def spark_submit_executable() -> Path:
    path = spark_home() / "bin" / "spark-submit"
    if not path.is_file():
        raise RuntimeError(f"{path} does not exist; the pyspark installation is incomplete")
    return path


def spark_submit_argv(
    script: Path,
    args: Sequence[str] = (),
    *,
    conf: Mapping[str, str] | None = None,
    app_name: str | None = None,
    long_running: bool = False,
) -> list[str]:
    """argv running ``script args...`` under local ``spark-submit`` with Delta and the job wheel.

    ``conf`` overrides the defaults of :func:`~edp.spark_runtime.session.local_spark_conf`; the app name
    defaults to the script's file name; ``long_running`` as in ``local_spark_conf``. Run it with
    :func:`spark_submit_env`.
    """
    script = Path(script).resolve()
    if not script.is_file():
        raise FileNotFoundError(f"PySpark entry point {script} does not exist")
    settings = local_spark_conf(app_name or script.stem, conf, long_running=long_running)
    wheel = str(build_job_wheel())
    # Spark puts --py-files on the driver's path but sends only .zip/.egg/.py to Python workers
    # (SPARK-6764, wheels never landed); local workers share this filesystem, so name the wheel for them.
    settings[WORKER_PYTHONPATH] = os.pathsep.join(filter(None, (wheel, settings.get(WORKER_PYTHONPATH))))
    argv = [str(spark_submit_executable())]
    for key, flag in _FLAG_KEYS.items():
        argv += [flag, settings.pop(key)]
    for key, value in settings.items():
        argv += ["--conf", f"{key}={value}"]
    return [*argv, "--py-files", wheel, str(script), *args]


def _java_home(path: str | None) -> str | None:
    """JAVA_HOME from the ``java`` on ``path`` (e.g. /usr/bin/java -> /usr/lib/jvm/<jdk>/bin/java)."""
    java = shutil.which("java", path=path)
    return str(Path(java).resolve().parents[1]) if java else None


def spark_submit_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for :func:`spark_submit_argv`: ``base`` (default ``os.environ``) plus what Spark needs."""
    env = dict(os.environ if base is None else base)
    for key, value in local_spark_env().items():
        env.setdefault(key, value)
    # The launcher scripts prefer an inherited SPARK_HOME; pin the one matching our pyspark and jars.
    env["SPARK_HOME"] = str(spark_home())
    # edp.config inside the wheel cannot find the repository from its own location.
    env[PROJECT_ROOT_VAR] = str(get_config().project_root)
    if not env.get("JAVA_HOME") and (java_home := _java_home(env.get("PATH"))):
        env["JAVA_HOME"] = java_home
    env.setdefault("PYTHONUNBUFFERED", "1")  # driver output reaches task logs as it happens
    return env
