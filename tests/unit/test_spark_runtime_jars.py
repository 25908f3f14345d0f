"""The offline Delta jar cache: clear errors when it is unusable, no network when it is valid."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from edp.spark_runtime import jars
from edp.spark_runtime.jars import SparkJarsMissingError, delta_coordinate, local_jars, provision

pytestmark = pytest.mark.unit


@pytest.fixture
def project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away project root, so the real ``.cache`` is never read or written."""
    monkeypatch.setenv("PLATFORM_PROJECT_ROOT", str(tmp_path))
    return tmp_path


def _fake_cache(directory: Path, names: list[str], coordinate: str | None = None) -> list[Path]:
    directory.mkdir(parents=True)
    for name in names:
        (directory / name).write_bytes(b"PK\x03\x04 not a real jar")
    stamp = {"coordinate": coordinate or delta_coordinate(), "jars": names}
    (directory / ".provisioned").write_text(json.dumps(stamp))
    return [directory / name for name in names]


def test_missing_cache_tells_the_user_to_run_make_setup(project_root: Path) -> None:
    with pytest.raises(SparkJarsMissingError, match="make setup") as raised:
        local_jars()
    assert str(project_root / ".cache" / "spark-jars") in str(raised.value)
    assert delta_coordinate() in str(raised.value)


def test_cache_for_another_delta_version_is_rejected(project_root: Path) -> None:
    _fake_cache(jars.jars_dir(), ["delta.jar"], coordinate="io.delta:delta-spark_4.0_2.13:4.0.0")

    with pytest.raises(
        SparkJarsMissingError, match=r"holds io\.delta:delta-spark_4\.0_2\.13:4\.0\.0.*make setup"
    ):
        local_jars()


def test_cache_with_a_deleted_jar_names_the_missing_file(project_root: Path) -> None:
    cached = _fake_cache(jars.jars_dir(), ["delta-spark.jar", "delta-storage.jar"])
    cached[1].unlink()

    with pytest.raises(SparkJarsMissingError, match=r"missing: delta-storage\.jar.*make setup"):
        local_jars()


def test_valid_cache_lists_the_jars_in_resolution_order(project_root: Path) -> None:
    cached = _fake_cache(jars.jars_dir(), ["io.delta_delta-spark.jar", "io.delta_delta-storage.jar"])

    assert local_jars() == cached
    assert all(jar.is_absolute() for jar in local_jars())


def test_provision_is_a_no_op_that_refreshes_the_stamp_when_the_cache_is_valid(project_root: Path) -> None:
    cached = _fake_cache(jars.jars_dir(), ["io.delta_delta-spark.jar"])
    stamp = jars.jars_dir() / ".provisioned"
    os.utime(stamp, (0, 0))

    # A real resolution would start Spark and return the real Delta jar names instead.
    assert provision() == cached
    assert stamp.stat().st_mtime > 0


def test_install_copies_the_resolved_jars_drops_stale_ones_and_stamps_last(tmp_path: Path) -> None:
    resolved = [tmp_path / "ivy" / "a.jar", tmp_path / "ivy" / "b.jar"]
    resolved[0].parent.mkdir()
    for jar in resolved:
        jar.write_bytes(jar.name.encode())
    target = tmp_path / "spark-jars"
    target.mkdir()
    (target / "old-delta.jar").write_bytes(b"stale")

    jars._install(resolved, target, "io.delta:delta-spark_4.2_2.13:4.4.0")

    assert sorted(p.name for p in target.glob("*.jar")) == ["a.jar", "b.jar"]
    stamp = json.loads((target / ".provisioned").read_text())
    assert stamp["coordinate"] == "io.delta:delta-spark_4.2_2.13:4.4.0"
    assert stamp["jars"] == ["a.jar", "b.jar"]
