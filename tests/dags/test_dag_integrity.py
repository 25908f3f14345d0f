"""Every DAG file imports offline, fast, and follows the platform's rules (see conftest for the import)."""

from __future__ import annotations

import graphlib
from datetime import timedelta

import pytest

pytestmark = pytest.mark.unit

BACKFILL_TAG = "backfill"
MIN_RETRIES = 2


def the_dag(parsed_dag_files: dict, dag_file: str):
    """The one DAG a file defines; dependent checks skip when the import test has already failed."""
    parsed = parsed_dag_files[dag_file]
    if parsed.error is not None or len(parsed.dags) != 1:
        pytest.skip(f"{dag_file}.py did not import cleanly to exactly one DAG; see the import tests")
    return parsed.dags[0]


def test_the_dags_folder_has_dag_files(parsed_dag_files) -> None:
    assert parsed_dag_files, "no DAG files found under dags/"


def test_dag_file_imports_without_error(parsed_dag_files, dag_file: str) -> None:
    parsed = parsed_dag_files[dag_file]
    assert parsed.error is None, f"{dag_file}.py failed to import ({parsed.platform_env}):\n{parsed.error}"


def test_dag_file_defines_one_dag_named_after_the_file(parsed_dag_files, dag_file: str) -> None:
    parsed = parsed_dag_files[dag_file]
    if parsed.error is not None:
        pytest.skip(f"{dag_file}.py did not import")
    dag_ids = [dag.dag_id for dag in parsed.dags]
    assert dag_ids == [dag_file], (
        f"{dag_file}.py must define exactly one DAG with dag_id {dag_file!r}, "
        f"assigned to a module-level name; found {dag_ids}"
    )


def test_dag_file_parses_within_the_budget(
    parsed_dag_files, dag_file: str, parse_budget_s: float, record_property
) -> None:
    parsed = parsed_dag_files[dag_file]
    record_property(f"parse_seconds_{parsed.platform_env}", round(parsed.import_seconds, 4))
    assert parsed.import_seconds < parse_budget_s, (
        f"{dag_file}.py took {parsed.import_seconds:.3f}s to import ({parsed.platform_env}); "
        f"budget {parse_budget_s}s. Move heavy imports and work into tasks."
    )


def test_every_task_has_a_real_owner(parsed_dag_files, dag_file: str) -> None:
    dag = the_dag(parsed_dag_files, dag_file)
    bad = {task.task_id: task.owner for task in dag.tasks if not task.owner or task.owner == "airflow"}
    assert not bad, f"tasks without a team owner (use platform_default_args): {bad}"


def test_dag_has_tags_and_documentation(parsed_dag_files, dag_file: str) -> None:
    dag = the_dag(parsed_dag_files, dag_file)
    assert dag.tags, "tags must not be empty"
    assert dag.doc_md and dag.doc_md.strip(), "doc_md must describe the DAG"


def test_every_task_retries_at_least_twice_after_a_delay(parsed_dag_files, dag_file: str) -> None:
    dag = the_dag(parsed_dag_files, dag_file)
    bad = {
        task.task_id: (task.retries, task.retry_delay)
        for task in dag.tasks
        if (task.retries or 0) < MIN_RETRIES
        or not isinstance(task.retry_delay, timedelta)
        or task.retry_delay <= timedelta(0)
    }
    assert not bad, f"tasks need retries >= {MIN_RETRIES} and a positive retry_delay: {bad}"


def test_every_task_has_a_failure_callback(parsed_dag_files, dag_file: str) -> None:
    dag = the_dag(parsed_dag_files, dag_file)
    missing = [task.task_id for task in dag.tasks if not task.on_failure_callback]
    assert not missing, f"tasks without on_failure_callback (use platform_default_args): {missing}"


def test_dag_has_no_cycles(parsed_dag_files, dag_file: str) -> None:
    dag = the_dag(parsed_dag_files, dag_file)
    graph = {task.task_id: set(task.upstream_task_ids) for task in dag.tasks}
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"cycle between tasks: {exc.args[1]}")
    assert set(order) == set(dag.task_dict)


def test_dag_passes_airflow_validation(parsed_dag_files, dag_file: str) -> None:
    dag = the_dag(parsed_dag_files, dag_file)
    dag.validate()  # params, setup/teardown wiring, trigger rules; raises on error


def test_dag_states_its_schedule_explicitly(parsed_dag_files, dag_file: str) -> None:
    dag = the_dag(parsed_dag_files, dag_file)
    assert dag.dag_id in parsed_dag_files[dag_file].explicit_schedule, (
        "pass schedule= explicitly (None for manual/triggered DAGs) instead of relying on the default"
    )


def test_dag_does_not_catch_up_unless_tagged_backfill(parsed_dag_files, dag_file: str) -> None:
    dag = the_dag(parsed_dag_files, dag_file)
    if BACKFILL_TAG in dag.tags:
        return
    assert dag.catchup is False, f"catchup must be False unless the DAG is tagged {BACKFILL_TAG!r}"
