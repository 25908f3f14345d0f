"""Entry-point arguments of the batch jobs: Glue's extra arguments, the environment, refused values."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

from edp.config import Environment

pytestmark = pytest.mark.unit

SPARK_DIR = Path(__file__).resolve().parents[2] / "include" / "spark"
INTERVAL = ["--start", "2025-06-01T00:00:00+00:00", "--end", "2025-06-02T00:00:00+00:00"]
GLUE_EXTRAS = [
    "--JOB_ID",
    "j_1",
    "--JOB_RUN_ID",
    "jr_1",
    "--JOB_NAME",
    "edp-gold-build",
    "--TempDir",
    "s3://edp-artifacts/tmp",
    "--airflow_task_uuid",
    "dag:task:run:-1",
]


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_script_{name}", SPARK_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def local_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local environment, without overrides."""
    monkeypatch.setenv("PLATFORM_ENV", "local")
    for key in [k for k in os.environ if k.startswith("PLATFORM__")]:
        monkeypatch.delenv(key)


def test_vacuum_below_seven_days_is_refused_before_spark_starts(capsys: pytest.CaptureFixture[str]) -> None:
    compact = load_script("compact_tables")
    with pytest.raises(SystemExit) as exit_info:
        compact.parse_args(["--action", "vacuum", "--retention-hours", "24"])
    assert exit_info.value.code == 2
    assert "below the 168 h (7 days) floor" in capsys.readouterr().err
    assert compact.parse_args(["--action", "vacuum", "--retention-hours", "336"]).retention_hours == 336


def test_optimize_needs_an_interval_and_reads_zorder_columns() -> None:
    compact = load_script("compact_tables")
    with pytest.raises(SystemExit):
        compact.parse_args(["--action", "optimize"])
    args = compact.parse_args(["--action", "optimize", *INTERVAL, "--zorder-bronze", "none"])
    assert compact._columns(args.zorder_bronze) == ()
    assert compact._columns(args.zorder_silver) == ("event_type", "session_id")


def test_glue_supplied_arguments_are_ignored_only_when_the_launcher_says_glue() -> None:
    build = load_script("build_gold")
    args = build.parse_args([*INTERVAL, "--engine", "glue", *GLUE_EXTRAS])
    assert args.spark_engine.name == "glue" and not args.spark_engine.builds_session
    assert str(args.interval) == "[2025-06-01T00:00:00+00:00, 2025-06-02T00:00:00+00:00)"
    with pytest.raises(SystemExit):
        build.parse_args([*INTERVAL, "--JOB_NAME", "edp-gold-build"])
    with pytest.raises(SystemExit):  # Glue's arguments alone do not make a run a Glue run
        build.parse_args([*INTERVAL, *GLUE_EXTRAS])
    with pytest.raises(SystemExit):
        build.parse_args([*INTERVAL, "--engine", "emr"])
    assert build.parse_args(INTERVAL).spark_engine.name == "local"


def test_platform_env_aws_switches_the_default_lake_root_to_s3_without_touching_the_environment() -> None:
    build = load_script("build_gold")
    assert build.parse_args(INTERVAL).lake_root.endswith("/data/lake")
    args = build.parse_args([*INTERVAL, "--platform-env", "aws"])
    assert args.config.env is Environment.AWS
    assert os.environ["PLATFORM_ENV"] == "local", "the job's environment is its config, not os.environ"
    assert args.lake_root == "s3://edp-lake/lake"


def test_gold_tables_can_be_chosen_and_intervals_are_validated(capsys: pytest.CaptureFixture[str]) -> None:
    build = load_script("build_gold")
    assert build.parse_args([*INTERVAL, "--tables", "sessions, funnel_daily"]).table_names == [
        "sessions",
        "funnel_daily",
    ]
    with pytest.raises(SystemExit):
        build.parse_args(["--start", "2025-06-02", "--end", "2025-06-01"])
    assert "empty interval" in capsys.readouterr().err


def test_replay_arguments_are_checked_and_the_run_id_made_safe_for_delta() -> None:
    replay = load_script("replay_silver")
    args = replay.parse_args(
        [
            "--start-date",
            "2025-06-01",
            "--end-date",
            "2025-06-03",
            "--mode",
            "rebuild",
            "--allow-drop",
            "True",
            "--run-id",
            "manual__2025-06-04T10:00:00+00:00",
        ]
    )
    assert args.mode == "rebuild" and args.allow_drop is True
    assert args.run_id == "manual__2025-06-04T10_00_00_00_00"
    with pytest.raises(SystemExit):
        replay.parse_args(["--start-date", "2025-06-03", "--end-date", "2025-06-01"])
    with pytest.raises(SystemExit):
        replay.parse_args(["--start-date", "2025-06-01", "--end-date", "2025-06-01", "--allow-drop", "maybe"])


def test_the_retention_floor_is_seven_days_and_longer_retentions_pass() -> None:
    from edp.batch.policy import RetentionTooShortError, check_retention

    assert check_retention(168) == 168 and check_retention(720) == 720
    with pytest.raises(RetentionTooShortError, match="below the 168 h"):
        check_retention(167.5)
