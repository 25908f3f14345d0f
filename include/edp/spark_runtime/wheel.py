"""The job wheel: the ``edp`` package, built with ``uv build`` once per content.

Every Spark job receives this one file: local ``spark-submit`` as ``--py-files``, Glue 5 through
``--additional-python-modules`` (pip installs it with its ``Requires-Dist``), Databricks as a whl
library of the job. Its project is ``include/pyproject.toml`` (hatchling, ``edp`` only: never
``edp_local``, tests or benchmarks). Typical use::

    wheel = build_job_wheel()   # .platform/build/wheel-<content hash>/edp-0.1.0-py3-none-any.whl

The cache key is a hash of the package's files and its project file, so an unchanged tree reuses the
built wheel (a task run costs one hash of ~1 MB) and any change gets a new wheel, never a stale one.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

from edp.config import get_config

PACKAGE = "edp"
BUILD_TIMEOUT_S = 300


class WheelBuildError(RuntimeError):
    """``uv build`` failed or did not produce exactly one wheel."""


def wheel_project_dir() -> Path:
    """``include/``, the directory holding the running ``edp`` package and the wheel's ``pyproject.toml``."""
    # The package's own location, not the configured project root: the wheel is built from the code
    # that runs, and a job running from the wheel has no tree to build from (content_hash says so).
    return Path(__file__).resolve().parents[2]


def _project(pyproject: Path) -> tuple[str, str]:
    # Read each time (a small file): a version bump in a long-lived worker must not leave a stale name.
    with pyproject.open("rb") as fh:
        project = tomllib.load(fh)["project"]
    return project["name"], project["version"]


def wheel_filename(project_dir: Path | None = None) -> str:
    """``edp-<version>-py3-none-any.whl``: the name pip, Glue and Databricks see (pure Python, any platform)."""
    name, version = _project((project_dir or wheel_project_dir()) / "pyproject.toml")
    return f"{name.replace('-', '_')}-{version}-py3-none-any.whl"


def _sources(project_dir: Path) -> Iterator[tuple[str, Path]]:
    yield "pyproject.toml", project_dir / "pyproject.toml"
    for path in sorted((project_dir / PACKAGE).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path.relative_to(project_dir).as_posix(), path


def content_hash(project_dir: Path | None = None) -> str:
    """sha256 over every file that goes into the wheel (names and bytes), bytecode excluded."""
    project_dir = project_dir or wheel_project_dir()
    if not (project_dir / "pyproject.toml").is_file():
        raise WheelBuildError(f"{project_dir / 'pyproject.toml'} does not exist: no wheel project there")
    digest = hashlib.sha256()
    for name, path in _sources(project_dir):
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _uv_build(project_dir: Path, out_dir: Path) -> Path:
    from uv import find_uv_bin  # noqa: PLC0415 - only a build needs it; DAG parsing reads wheel_filename

    # Without build isolation the backend is the hatchling pinned in uv.lock: offline and reproducible.
    argv = [
        find_uv_bin(),
        "build",
        str(project_dir),
        "--wheel",
        "--no-build-isolation",
        "--python",
        sys.executable,
        "--out-dir",
        str(out_dir),
        "--no-config",
        "--quiet",
    ]
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
    )
    wheels = sorted(out_dir.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        raise WheelBuildError(
            f"uv build of {project_dir} failed (exit {done.returncode}, wheels {[w.name for w in wheels]}): "
            f"{done.stderr.strip()[-2000:]}"
        )
    return wheels[0]


def build_job_wheel(build_dir: Path | None = None, *, project_dir: Path | None = None) -> Path:
    """The wheel of ``project_dir`` (default ``include/``) under ``build_dir/wheel-<hash>/``, built if missing.

    :param build_dir: where built wheels are kept; default ``<state dir>/build``.
    :param project_dir: the wheel's project; default :func:`wheel_project_dir`.
    """
    project_dir = (project_dir or wheel_project_dir()).resolve()
    build_dir = build_dir or get_config().state_dir / "build"
    target_dir = build_dir / f"wheel-{content_hash(project_dir)[:16]}"
    target = target_dir / wheel_filename(project_dir)
    if target.is_file():
        return target
    build_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".wheel-{os.getpid()}-", dir=build_dir))
    try:
        built = _uv_build(project_dir, staging / "out")
        if built.name != target.name:
            raise WheelBuildError(f"uv build produced {built.name}, expected {target.name}")
        finished = staging / "wheel"
        finished.mkdir()
        built.replace(finished / target.name)
        try:
            finished.rename(target_dir)  # atomic: a concurrent submit never sees a half-written wheel
        except OSError:
            if not target.is_file():  # else a concurrent build of the same content won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m edp.spark_runtime.wheel [--out-dir DIR]``: build (or reuse) the wheel, print its path."""
    parser = argparse.ArgumentParser(prog="python -m edp.spark_runtime.wheel", description=main.__doc__)
    parser.add_argument("--out-dir", type=Path, help="also copy the wheel here (e.g. dist/ for a bundle)")
    args = parser.parse_args(argv)
    wheel = build_job_wheel()
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        wheel = Path(shutil.copy2(wheel, args.out_dir / wheel.name))
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
