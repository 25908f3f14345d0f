"""spark-submit command lines and the job wheel they ship as --py-files, built without starting Spark."""

from __future__ import annotations

import json
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from edp.spark_runtime import jars
from edp.spark_runtime.submit import spark_home, spark_submit_argv, spark_submit_env
from edp.spark_runtime.wheel import WheelBuildError, build_job_wheel

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


def test_short_jobs_use_the_client_jit_and_the_streaming_job_keeps_the_tiered_one(
    project_root: Path, script: Path
) -> None:
    from edp.spark_runtime.session import SHORT_JOB_JIT
    from edp_local.runtime.streaming_service import SCRIPT, launch_argv

    (project_root / SCRIPT).parent.mkdir(parents=True)
    (project_root / SCRIPT).write_text("print('stream')\n")
    short = _conf(spark_submit_argv(script, []))["spark.driver.defaultJavaOptions"].split()
    long_running = _conf(spark_submit_argv(script, [], long_running=True))["spark.driver.defaultJavaOptions"]
    streaming = _conf(launch_argv([], project_root))["spark.driver.defaultJavaOptions"]

    assert SHORT_JOB_JIT in short and "-XX:+UseSerialGC" in short
    assert SHORT_JOB_JIT not in long_running.split() and "-XX:+UseSerialGC" in long_running.split()
    assert SHORT_JOB_JIT not in streaming.split()


def test_py_files_is_the_job_wheel_built_under_the_state_dir_without_bytecode(
    project_root: Path, script: Path
) -> None:
    argv = spark_submit_argv(script, [])
    wheel = Path(argv[argv.index("--py-files") + 1])

    assert wheel.name == "edp-0.1.0-py3-none-any.whl"
    assert wheel.parent.parent == project_root / ".platform" / "build"
    assert argv.index("--py-files") < argv.index(str(script))
    names = zipfile.ZipFile(wheel).namelist()
    assert {"edp/config/settings.py", "edp/spark_runtime/session.py", "edp/spark_runtime/submit.py"} <= set(
        names
    )
    assert not [name for name in names if name.endswith(".pyc") or "__pycache__" in name]
    # Spark sends no wheel to Python workers by itself: local workers get it on their PYTHONPATH.
    assert _conf(argv)["spark.executorEnv.PYTHONPATH"] == str(wheel)


def _wheel_project(root: Path, version: int) -> Path:
    (root / "edp").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "edp"
            version = "0.1.0"
            requires-python = ">=3.11"

            [tool.hatch.build.targets.wheel]
            packages = ["edp"]
            """
        )
    )
    (root / "edp" / "__init__.py").write_text(f"VERSION = {version}\n")
    return root


def test_the_wheel_is_reused_until_a_source_file_changes(tmp_path: Path) -> None:
    project = _wheel_project(tmp_path / "include", version=1)
    build = tmp_path / "build"

    first = build_job_wheel(build, project_dir=project)
    mtime = first.stat().st_mtime_ns
    assert build_job_wheel(build, project_dir=project) == first
    assert first.stat().st_mtime_ns == mtime  # reused, not rebuilt
    _wheel_project(project, version=2)
    second = build_job_wheel(build, project_dir=project)

    assert second != first and second.name == first.name
    assert zipfile.ZipFile(second).read("edp/__init__.py") == b"VERSION = 2\n"
    assert zipfile.ZipFile(first).read("edp/__init__.py") == b"VERSION = 1\n"  # a running job keeps its own
    assert sorted(path.name for path in build.iterdir()) == sorted([first.parent.name, second.parent.name])


def test_a_missing_or_broken_wheel_project_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WheelBuildError, match=r"pyproject\.toml does not exist"):
        build_job_wheel(tmp_path / "build", project_dir=tmp_path / "nowhere")

    project = _wheel_project(tmp_path / "include", version=1)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', 'version = "not a version"'))
    with pytest.raises(WheelBuildError, match=r"uv build of .* failed"):
        build_job_wheel(tmp_path / "build", project_dir=project)
    assert not list((tmp_path / "build").glob("wheel-*"))  # nothing half-built is left to be reused


def test_env_pins_spark_home_python_and_project_root(project_root: Path) -> None:
    env = spark_submit_env(
        {"PATH": "/usr/bin:/bin", "PYTHONPATH": "/elsewhere", "SPARK_HOME": "/opt/other-spark"}
    )

    assert env["SPARK_HOME"] == str(spark_home())
    assert env["PYSPARK_PYTHON"] == sys.executable
    assert env["PLATFORM_PROJECT_ROOT"] == str(project_root)
    assert Path(env["JAVA_HOME"], "bin", "java").is_file()
    assert env["PYTHONPATH"] == "/elsewhere"
