"""Shared fixtures for integration tests: one local SparkSession per test run, and a scratch lake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from spark_runtime.session import get_spark


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The local Delta-enabled session (offline jars from ``make setup``), shared by every Spark test.

    Starting a JVM costs seconds on a small machine, so tests share this one; keep them independent
    by writing under ``lake_dir`` and by not changing static configuration.
    """
    session = get_spark("pytest-integration")
    yield session
    session.stop()


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    """An empty lake root for one test: Delta tables go to ``lake_dir / "<table>"``."""
    lake = tmp_path / "lake"
    lake.mkdir()
    return lake
