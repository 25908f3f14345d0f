"""The production image's build context, computed from .dockerignore: production code in, local stand-ins out."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from docker.utils.build import PatternMatcher

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
IMAGE_NEEDS = ("include/edp/", "include/spark/", "include/sql/", "dags/", "plugins/")
NEVER_IN_THE_IMAGE = ("include/edp_local/", "tests/", "benchmarks/", "tools/", ".github/", ".ci/")
# Local state and secrets that exist only in a working copy (git ignores them), by example path.
LOCAL_STATE = (
    ".venv/bin/python",
    ".tools/bin/uv",
    ".cache/spark-jars/delta-spark.jar",
    ".platform/airflow/airflow.db",
    ".platform/build/wheel-0123456789abcdef/edp-0.1.0-py3-none-any.whl",
    "data/lake/silver/events/_delta_log/00000000000000000000.json",
    "build/lambda/ingest.zip",
    "dist/edp-0.1.0-py3-none-any.whl",
    "logs/scheduler/latest.log",
    ".env",
    ".env.production",
    "airflow_settings.local.yaml",
    "include/edp/config/__pycache__/settings.cpython-312.pyc",
    ".pytest_cache/v/cache/lastfailed",
)


def _git_files(*flags: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", *flags], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


@pytest.fixture(scope="module")
def excluded() -> PatternMatcher:
    """Docker's own .dockerignore rules, as the Docker SDK for Python implements them for its builds.

    The file is read the way that SDK reads it (blank and ``#`` lines dropped); like ``docker build``,
    the Dockerfile and .dockerignore are always sent.
    """
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return PatternMatcher([*patterns, "!Dockerfile"])


@pytest.fixture(scope="module")
def context(excluded: PatternMatcher) -> set[str]:
    """The git-tracked files ``docker build .`` would send."""
    return {path for path in _git_files() if not excluded.matches(path)}


def test_no_local_stand_in_test_benchmark_or_dev_tool_is_in_the_build_context(context: set[str]) -> None:
    tracked = _git_files()
    for prefix in ("include/edp_local/", "tests/", "benchmarks/", "tools/"):
        assert [path for path in tracked if path.startswith(prefix)], f"nothing tracked under {prefix}"
    for prefix in NEVER_IN_THE_IMAGE:
        assert not [path for path in context if path.startswith(prefix)], prefix


def test_all_production_code_the_image_runs_is_in_the_build_context(context: set[str]) -> None:
    tracked = _git_files()
    for prefix in IMAGE_NEEDS:
        files = [path for path in tracked if path.startswith(prefix)]
        assert files, f"nothing tracked under {prefix}"
        assert set(files) <= context, sorted(set(files) - context)[:5]
    # What the Astro build itself reads, and the job wheel's project (the Glue upload builds it there).
    assert {"Dockerfile", "requirements.txt", "packages.txt", "include/pyproject.toml"} <= context


@pytest.mark.parametrize("path", LOCAL_STATE)
def test_local_state_caches_and_secrets_never_enter_the_build_context(
    excluded: PatternMatcher, path: str
) -> None:
    assert excluded.matches(path)


def test_everything_git_ignores_in_this_working_copy_stays_out_of_the_build_context(
    excluded: PatternMatcher,
) -> None:
    """Whatever local state this checkout holds right now (git's view of ignored files) is excluded."""
    ignored = _git_files("--others", "--ignored", "--exclude-standard", "--directory")
    leaks = [path for path in ignored if not excluded.matches(path.rstrip("/"))]
    assert leaks == []
