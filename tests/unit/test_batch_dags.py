"""The batch DAGs' wiring: rendered job arguments, the backfill form's params, and asset lineage."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from airflow.sdk import CronDataIntervalTimetable, macros
from airflow.sdk.exceptions import ParamValidationError

from edp.lake.gold import GOLD_TABLES

pytestmark = pytest.mark.unit

DAGS = Path(__file__).resolve().parents[2] / "dags"
FORM = {
    "start_date": "2025-06-01",
    "end_date": "2025-06-03",
    "layers": ["bronze_to_silver", "silver_to_gold"],
    "silver_mode": "rebuild",
    "allow_drop": False,
}


@pytest.fixture
def load_dag(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PLATFORM_ENV", "local")
    for key in [k for k in os.environ if k.startswith("PLATFORM__")]:
        monkeypatch.delenv(key)

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"_dag_{name}", DAGS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, f"{name}_dag")

    return load


def rendered_args(task, context: dict) -> list[str]:
    args = task.render_template(task.application_args, context)
    return args[6:]  # after --engine, --platform-env and --lake-root


def validated(dag, conf: dict) -> dict:
    params = copy.deepcopy(dag.params)
    params.update(conf)
    return params.validate()


def test_gold_build_passes_the_data_interval_and_links_silver_to_the_gold_assets(load_dag) -> None:
    dag = load_dag("gold_build")
    task = dag.task_dict["build_gold"]
    context = {
        "data_interval_start": datetime(2025, 6, 1, 10, tzinfo=UTC),
        "data_interval_end": datetime(2025, 6, 1, 11, tzinfo=UTC),
    }
    assert rendered_args(task, context) == [
        "--start",
        "2025-06-01T10:00:00+00:00",
        "--end",
        "2025-06-01T11:00:00+00:00",
    ]
    assert [asset.name for asset in task.inlets] == ["silver.events"]
    assert [asset.name for asset in task.outlets] == list(GOLD_TABLES)
    # hourly *intervals* (not CronTriggerTimetable, whose runs have an empty data interval)
    assert isinstance(dag.timetable, CronDataIntervalTimetable) and dag.timetable.expression == "0 * * * *"


def test_the_spark_jobs_take_the_lake_root_from_the_run_time_config_like_the_tasks_around_them(
    load_dag, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from edp.config import get_config
    from edp.orchestration.runtime import OVERRIDES_VARIABLE, runtime_config

    variable = f"AIRFLOW_VAR_{OVERRIDES_VARIABLE.upper()}"
    monkeypatch.delenv(variable, raising=False)
    dag = load_dag("gold_build")  # parsed without the override, as the DAG processor does
    task = dag.task_dict["build_gold"]
    canary = str(tmp_path / "canary-lake")
    monkeypatch.setenv(variable, json.dumps({"lake": {"root": canary}}))  # set after parsing, before the run

    hour = datetime(2025, 6, 1, 10, tzinfo=UTC)
    args = task.render_template(
        task.application_args, {"data_interval_start": hour, "data_interval_end": hour}
    )
    rendered = dict(zip(args[::2], args[1::2], strict=True))
    assert rendered["--lake-root"] == canary == runtime_config().lake.root
    assert get_config().lake.root != canary
    assert (rendered["--engine"], rendered["--platform-env"]) == ("local", "local")


def test_every_platform_dag_has_the_run_time_config_macro(load_dag) -> None:
    from edp.orchestration.runtime import CONFIG_MACRO, runtime_config

    for name in ("gold_build", "lake_backfill", "lake_compaction", "lake_vacuum", "warehouse_load"):
        assert load_dag(name).user_defined_macros[CONFIG_MACRO] is runtime_config, name


def test_the_backfill_form_renders_whole_days_for_gold_and_the_mode_for_the_replay(load_dag) -> None:
    dag = load_dag("lake_backfill")
    context = {"params": validated(dag, FORM), "macros": macros, "run_id": "manual__2025-06-04"}

    assert rendered_args(dag.task_dict["rebuild_gold"], context) == [
        "--start",
        "2025-06-01",
        "--end",
        "2025-06-04",
    ]
    assert rendered_args(dag.task_dict["replay_bronze_to_silver"], context) == [
        "--start-date",
        "2025-06-01",
        "--end-date",
        "2025-06-03",
        "--mode",
        "rebuild",
        "--allow-drop",
        "false",
        "--run-id",
        "manual__2025-06-04",
    ]


def test_the_backfill_form_rejects_unknown_layers_and_requires_the_dates(load_dag) -> None:
    dag = load_dag("lake_backfill")
    with pytest.raises(ParamValidationError, match="layers"):
        validated(dag, {**FORM, "layers": ["gold_to_silver"]})
    with pytest.raises(ParamValidationError, match="layers"):
        validated(dag, {**FORM, "layers": []})
    with pytest.raises(ParamValidationError, match="start_date"):
        validated(dag, {k: v for k, v in FORM.items() if k != "start_date"})
    assert validated(dag, {"start_date": "2025-06-01", "end_date": "2025-06-01"})["silver_mode"] == "merge"


def test_the_backfill_runs_the_replay_before_gold_and_gold_even_without_a_replay(load_dag) -> None:
    dag = load_dag("lake_backfill")
    tasks = dag.task_dict
    assert tasks["bronze_to_silver_selected"].upstream_task_ids == {"check_range"}
    assert tasks["replay_bronze_to_silver"].upstream_task_ids == {"bronze_to_silver_selected"}
    assert tasks["silver_to_gold_selected"].upstream_task_ids == {"replay_bronze_to_silver"}
    assert tasks["silver_to_gold_selected"].trigger_rule == "none_failed"
    assert tasks["rebuild_gold"].upstream_task_ids == {"silver_to_gold_selected"}
    assert [a.name for a in tasks["replay_bronze_to_silver"].outlets] == ["silver.events"]


def test_compaction_and_vacuum_only_read_their_tables(load_dag) -> None:
    compaction = load_dag("lake_compaction").task_dict["optimize_touched_partitions"]
    vacuum = load_dag("lake_vacuum").task_dict["vacuum_lake"]
    assert rendered_args(
        compaction,
        {
            "data_interval_start": datetime(2025, 6, 1, 3, tzinfo=UTC),
            "data_interval_end": datetime(2025, 6, 2, 3, tzinfo=UTC),
        },
    )[:2] == ["--action", "optimize"]
    assert vacuum.application_args[-4:] == ["--action", "vacuum", "--retention-hours", "168"]
    assert compaction.outlets == [] and vacuum.outlets == []
    assert {a.name for a in vacuum.inlets} >= {"bronze.events", "silver.events", *GOLD_TABLES}
