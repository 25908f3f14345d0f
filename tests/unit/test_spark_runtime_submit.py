"""spark-submit command lines and the --py-files zip, built without starting Spark."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest

from edp.spark_runtime import jars
from edp.spark_runtime.submit import build_pyfiles_zip, spark_home, spark_submit_argv, spark_submit_env

pytestmark = pytest.mark.unit


@pytest.fixture
def project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away project root with a jar cache stamp, so nothing touches the real repository state."""
    monkeypatch.setenv("PLATFORM_PROJECT_ROOT", str(tmp_path))
    cache = jars.jars_dir()
    cache.mkdir(parents=True)
    (cache / "delta.jar").write_bytes(b"jar")
    (cache / ".provisioned").write_text(
        json.dumps({"coordinate": jars.delta_coordinate(), "jars": ["delta.jar"]})
    )
    return tmp_path


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "compact_events.py"
    path.write_text("print('hello')\n")
    return path


def _conf(argv: list[str]) -> dict[str, str]:
    pairs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--conf"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_argv_runs_the_script_with_local_master_cached_jars_and_no_maven_packages(
    project_root: Path, script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARK_LOCAL_CORES", "3")

    argv = spark_submit_argv(script, ["--date", "2026-01-01"], conf={"spark.sql.shuffle.partitions": "8"})

    assert argv[0] == str(spark_home() / "bin" / "spark-submit")
    assert argv[argv.index("--master") + 1] == "local[3]"
    assert argv[argv.index("--name") + 1] == "compact_events"
    assert argv[-3:] == [str(script), "--date", "2026-01-01"]
    conf = _conf(argv)
    assert conf["spark.jars"] == str(project_root / ".cache" / "spark-jars" / "delta.jar")
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert conf["spark.sql.shuffle.partitions"] == "8"
    assert conf["spark.sql.warehouse.dir"].startswith(str(project_root / ".platform" / "spark"))
    assert "spark.jars.packages" not in conf and "--packages" not in argv


def test_py_files_zip_carries_the_shared_packages_without_bytecode(project_root: Path, script: Path) -> None:
    argv = spark_submit_argv(script, [])
    archive = Path(argv[argv.index("--py-files") + 1])

    assert archive.parent == project_root / ".platform" / "build"
    names = zipfile.ZipFile(archive).namelist()
    assert {"edp/config/settings.py", "edp/spark_runtime/session.py", "edp/spark_runtime/submit.py"} <= set(
        names
    )
    assert not [name for name in names if name.endswith(".pyc") or "__pycache__" in name]


def test_py_files_zip_is_reused_until_a_source_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "src" / "gold_metrics"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    build = tmp_path / "build"

    first = build_pyfiles_zip(["gold_metrics"], build)
    assert build_pyfiles_zip(["gold_metrics"], build) == first
    (package / "__init__.py").write_text("VERSION = 2\n")
    second = build_pyfiles_zip(["gold_metrics"], build)

    assert second != first
    assert zipfile.ZipFile(second).read("gold_metrics/__init__.py") == b"VERSION = 2\n"


def test_unknown_package_is_a_clear_error(project_root: Path, script: Path) -> None:
    with pytest.raises(ModuleNotFoundError, match="'no_such_package'"):
        spark_submit_argv(script, [], packages=["no_such_package"])


def test_env_pins_spark_home_python_and_project_root(project_root: Path) -> None:
    env = spark_submit_env(
        {"PATH": "/usr/bin:/bin", "PYTHONPATH": "/elsewhere", "SPARK_HOME": "/opt/other-spark"}
    )

    assert env["SPARK_HOME"] == str(spark_home())
    assert env["PYSPARK_PYTHON"] == sys.executable
    assert env["PLATFORM_PROJECT_ROOT"] == str(project_root)
    assert Path(env["JAVA_HOME"], "bin", "java").is_file()
    assert env["PYTHONPATH"] == "/elsewhere"
