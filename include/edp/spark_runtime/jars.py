"""Delta Lake jars for local Spark: resolved from Maven Central once, then used offline.

``python -m edp.spark_runtime.jars provision`` (run by ``make setup``) lets Spark's own Ivy resolution
fetch the Delta artifact matching the installed ``delta-spark`` pip package and its transitive
dependencies into ``.cache/ivy``, copies the resolved jars to ``.cache/spark-jars/`` and writes the
stamp ``.cache/spark-jars/.provisioned``. From then on sessions and ``spark-submit`` put those files on
``spark.jars`` and never set ``spark.jars.packages``, so nothing Spark does locally needs the network.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from edp.config import get_config

STAMP_NAME = ".provisioned"
SCALA_BINARY_VERSION = "2.13"


class SparkJarsMissingError(RuntimeError):
    """The local jar cache is absent, incomplete or for another Delta version."""


def cache_root() -> Path:
    return get_config().project_root / ".cache"


def jars_dir() -> Path:
    return cache_root() / "spark-jars"


def ivy_dir() -> Path:
    return cache_root() / "ivy"


def delta_coordinate() -> str:
    """Maven coordinate of the Delta artifact matching the installed pip packages.

    Same rule as ``delta.configure_spark_with_delta_pip``: the artifact carries the Spark
    major.minor, so a pyspark upgrade without a matching Delta release fails at provisioning
    instead of at the first Delta query.
    """
    delta_version = importlib.metadata.version("delta-spark")
    spark_major_minor = ".".join(importlib.metadata.version("pyspark").split(".")[:2])
    return f"io.delta:delta-spark_{spark_major_minor}_{SCALA_BINARY_VERSION}:{delta_version}"


def _read_stamp(directory: Path) -> dict[str, object] | None:
    try:
        stamp = json.loads((directory / STAMP_NAME).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return stamp if isinstance(stamp, dict) else None


def _problem(directory: Path, coordinate: str) -> str | None:
    """Why the cache in ``directory`` cannot be used for ``coordinate``; ``None`` if it can."""
    stamp = _read_stamp(directory)
    if stamp is None:
        return f"no Spark jar cache at {directory}"
    if stamp.get("coordinate") != coordinate:
        held = stamp.get("coordinate")
        return f"the jar cache at {directory} holds {held}, the environment needs {coordinate}"
    names = stamp.get("jars")
    if not isinstance(names, list) or not names:
        return f"the stamp {directory / STAMP_NAME} lists no jars"
    missing = [name for name in names if not (directory / str(name)).is_file()]
    if missing:
        return f"jars listed in {directory / STAMP_NAME} are missing: {', '.join(map(str, missing))}"
    return None


def local_jars(directory: Path | None = None) -> list[Path]:
    """Absolute paths of the provisioned jars, in resolution order.

    Raises :class:`SparkJarsMissingError` telling the user to run ``make setup`` when the cache is
    missing, incomplete or was provisioned for a different Delta/Spark version.
    """
    directory = directory or jars_dir()
    coordinate = delta_coordinate()
    if problem := _problem(directory, coordinate):
        raise SparkJarsMissingError(
            f"{problem}. Run `make setup` (or `python -m edp.spark_runtime.jars provision`) once with "
            f"network access to Maven Central to cache {coordinate} for offline use."
        )
    stamp = _read_stamp(directory) or {}
    return [directory / str(name) for name in stamp["jars"]]  # type: ignore[union-attr]


def _resolve_with_spark(coordinate: str, ivy: Path, repositories: Sequence[str]) -> list[Path]:
    """Start a throw-away local session with ``spark.jars.packages`` and read back what Ivy resolved."""
    from pyspark.sql import SparkSession  # noqa: PLC0415 - only the provisioning command needs Spark

    builder = (
        SparkSession.builder.master("local[1]")
        .appName("spark-jars-provision")
        .config("spark.jars.packages", coordinate)
        .config("spark.jars.ivy", str(ivy))
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
    )
    if repositories:
        builder = builder.config("spark.jars.repositories", ",".join(repositories))
    spark = builder.getOrCreate()
    try:
        resolved = spark.sparkContext.getConf().get("spark.jars") or ""
    finally:
        spark.stop()
    jars = [Path(unquote(urlparse(uri).path)) for uri in resolved.split(",") if uri.strip()]
    if not jars:
        raise RuntimeError(f"Spark resolved no jars for {coordinate}")
    return jars


def _install(jars: Sequence[Path], directory: Path, coordinate: str) -> list[str]:
    """Copy ``jars`` into ``directory``, drop stale ones, then write the stamp last (atomically)."""
    directory.mkdir(parents=True, exist_ok=True)
    names = [jar.name for jar in jars]
    for jar in jars:
        shutil.copy2(jar, directory / jar.name)
    for stale in directory.glob("*.jar"):
        if stale.name not in names:
            stale.unlink()
    stamp = {
        "coordinate": coordinate,
        "jars": names,
        "provisioned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as tmp:
        json.dump(stamp, tmp, indent=2)
        tmp.write("\n")
    os.chmod(tmp.name, 0o644)  # NamedTemporaryFile creates 0600
    os.replace(tmp.name, directory / STAMP_NAME)
    return names


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Serialise concurrent provisioning (parallel make, two shells) on one lock file."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def provision(*, force: bool = False, repositories: Sequence[str] = ()) -> list[Path]:
    """Resolve and cache the Delta jars unless a valid cache exists; return the cached jar paths."""
    directory, coordinate = jars_dir(), delta_coordinate()
    with _exclusive(cache_root() / "spark-jars.lock"):
        if not force and _problem(directory, coordinate) is None:
            # make compares mtimes: refresh the stamp so a newer venv stamp does not re-trigger us.
            (directory / STAMP_NAME).touch()
            return local_jars(directory)
        resolved = _resolve_with_spark(coordinate, ivy_dir(), repositories)
        _install(resolved, directory, coordinate)
    return local_jars(directory)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edp.spark_runtime.jars", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    prov = commands.add_parser("provision", help="resolve the Delta jars once and cache them for offline use")
    prov.add_argument("--force", action="store_true", help="resolve again even if the cache is valid")
    prov.add_argument(
        "--repository",
        action="append",
        default=[],
        help="extra Maven repository URL (e.g. a corporate mirror); Maven Central is always tried",
    )
    commands.add_parser("list", help="print the cached jar paths")
    args = parser.parse_args(argv)

    if args.command == "list":
        try:
            jars = local_jars()
        except SparkJarsMissingError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            return 1
        print("\n".join(map(str, jars)))
        return 0

    started = time.monotonic()
    was_valid = not args.force and _problem(jars_dir(), delta_coordinate()) is None
    jars = provision(force=args.force, repositories=args.repository)
    verb = "already provisioned" if was_valid else "provisioned"
    print(
        f"{delta_coordinate()}: {verb}, {len(jars)} jars in {jars_dir()} ({time.monotonic() - started:.1f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
