"""The ``streaming_supervisor`` DAG in a real (in-process) Airflow run: params, operator, XCom, teardown.

``dag.test()`` runs every task through Airflow's task runner, so the context keys the operator reads
(``params``, ``dag_run``, ``run_id``) and the XCom hand-over from ``check_health`` to ``recover`` are
Airflow's own. The ``stop`` action needs no Spark: with nothing running, the job is recorded as
stopped on request, the verdict is ``stopped`` and nothing is restarted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_dag_in_this_process(dag_path: str, result_path: str) -> None:
    """Child-process entry point: a fresh Airflow (sqlite) runs the DAG once with ``action=stop``."""
    import importlib.util

    from airflow.utils.db import initdb

    initdb()
    spec = importlib.util.spec_from_file_location("streaming_supervisor", dag_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag_run = module.streaming_supervisor_dag.test(run_conf={"action": "stop"})
    tis = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    summary = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "summarise").xcom_pull(
        task_ids="summarise"
    )
    Path(result_path).write_text(json.dumps({"state": str(dag_run.state), "tis": tis, "summary": summary}))


def test_a_manual_stop_run_records_the_job_as_stopped_and_every_task_succeeds(tmp_path: Path) -> None:
    home, dags = tmp_path / "airflow-home", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    # dag.test() serialises the DAG from the DAGs folder it was loaded from: use one holding only this DAG.
    dag_path = dags / "streaming_supervisor.py"
    dag_path.write_text((REPO_ROOT / "dags" / "streaming_supervisor.py").read_text())
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(
            str(p) for p in (REPO_ROOT / "include", REPO_ROOT, Path(__file__).parent)
        ),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PLATFORM_ENV": "local",
        "PLATFORM_PROJECT_ROOT": str(REPO_ROOT),
        "PLATFORM__LOCAL_STATE_DIR": str(tmp_path / "state"),
        "PLATFORM__LAKE__ROOT": str(tmp_path / "lake"),
    }
    result_path, log_path = tmp_path / "result.json", tmp_path / "child.log"
    child = f"from {Path(__file__).stem} import run_dag_in_this_process as run; run({str(dag_path)!r}, {str(result_path)!r})"
    with open(log_path, "wb") as log:
        completed = subprocess.run(
            [sys.executable, "-c", child], env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    log_tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-60:])
    assert completed.returncode == 0, f"dag.test() child failed:\n{log_tail}"
    result = json.loads(result_path.read_text())

    assert result["state"] == "success", log_tail
    assert result["tis"] == {
        "apply_action": "success",
        "check_health": "success",
        "recover": "success",
        # a stopped job with no silver table wrote nothing: no bronze/silver asset events
        "record_lake_updates": "skipped",
        "escalate": "success",
        "summarise": "success",
    }
    summary = result["summary"]
    assert summary["desired"] == "stopped"
    assert summary["state_location"] == str(tmp_path / "state" / "streaming" / "supervision.json")
    steps = summary["steps"]
    assert steps["apply_action"]["action"] == "stop"
    assert steps["apply_action"]["result"] == "stopped"
    assert steps["check_health"]["status"] == "stopped"
    assert steps["check_health"]["reasons"] == ["stopped on request"]
    assert steps["recover"] == {"decision": "none", "explanation": "job is stopped"}
    assert steps["escalate"] == {"incident": None, "attempts": 0}
    state = json.loads((tmp_path / "state" / "streaming" / "supervision.json").read_text())
    assert state["desired"] == "stopped"
    assert state["desired_changed_by"].startswith("manual__")
