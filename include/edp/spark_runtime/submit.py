"""``spark-submit`` command lines for our PySpark entry-point scripts, run locally.

Airflow tasks and the local runtime run the very script Databricks runs, through the
``spark-submit`` shipped inside the pyspark package, with the configuration of
:func:`edp.spark_runtime.session.local_spark_conf` and our shared packages zipped for ``--py-files``
(the way a cluster receives them). Typical use::

    argv = spark_submit_argv(script, ["--date", ds])
    subprocess.run(argv, env=spark_submit_env(), check=True)
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from edp.config import get_config
from edp.config.settings import PROJECT_ROOT_VAR
from edp.spark_runtime.session import local_spark_conf, local_spark_env

DEFAULT_PACKAGES = ("edp",)
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: same sources, same zip, same name
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


def _package_files(name: str) -> Iterable[tuple[str, Path]]:
    """(archive name, file) for an importable package or module, without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError(f"cannot zip {name!r}: it is not importable (is include/ on PYTHONPATH?)")
    if spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield f"{name}/{path.relative_to(root).as_posix()}", path
    elif spec.origin and spec.origin.endswith(".py"):
        yield f"{name}.py", Path(spec.origin)
    else:
        raise ValueError(f"cannot zip {name!r}: only pure-Python packages and modules can ship in --py-files")


def build_pyfiles_zip(packages: Sequence[str], build_dir: Path | None = None) -> Path:
    """Zip ``packages`` into ``.platform/build/pyfiles-<content hash>.zip``, reusing an identical one."""
    entries = sorted({arcname: path for name in packages for arcname, path in _package_files(name)}.items())
    contents = [(arcname, path.read_bytes()) for arcname, path in entries]
    digest = hashlib.sha256()
    for arcname, data in contents:
        digest.update(arcname.encode() + b"\0" + hashlib.sha256(data).digest())
    build_dir = build_dir or get_config().state_dir / "build"
    target = build_dir / f"pyfiles-{digest.hexdigest()[:16]}.zip"
    if target.is_file():
        return target
    build_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for arcname, data in contents:
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    tmp.replace(target)  # atomic: a concurrent submit never sees a half-written zip
    return target


def spark_submit_argv(
    script: Path,
    args: Sequence[str] = (),
    *,
    packages: Sequence[str] = DEFAULT_PACKAGES,
    conf: Mapping[str, str] | None = None,
    app_name: str | None = None,
) -> list[str]:
    """argv running ``script args...`` under local ``spark-submit`` with Delta and our packages.

    ``conf`` overrides the defaults of :func:`~edp.spark_runtime.session.local_spark_conf`; the app name
    defaults to the script's file name. Run it with :func:`spark_submit_env`.
    """
    script = Path(script).resolve()
    if not script.is_file():
        raise FileNotFoundError(f"PySpark entry point {script} does not exist")
    settings = local_spark_conf(app_name or script.stem, conf)
    argv = [str(spark_submit_executable())]
    for key, flag in _FLAG_KEYS.items():
        argv += [flag, settings.pop(key)]
    for key, value in settings.items():
        argv += ["--conf", f"{key}={value}"]
    if packages:
        argv += ["--py-files", str(build_pyfiles_zip(packages))]
    return [*argv, str(script), *args]


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
    # Zipped platform_config cannot find the repository from its own location inside the zip.
    env[PROJECT_ROOT_VAR] = str(get_config().project_root)
    if not env.get("JAVA_HOME") and (java_home := _java_home(env.get("PATH"))):
        env["JAVA_HOME"] = java_home
    env.setdefault("PYTHONUNBUFFERED", "1")  # driver output reaches task logs as it happens
    return env
