"""Run the real ``warehouse_load`` DAG with ``dag.test()`` in a child process (fresh sqlite Airflow).

``dag.test()`` runs every task through Airflow's task runner: Jinja rendering of the SQL files with the
DAG's environment, XCom between the plan and the gates, the gate's ``AirflowFailException`` and the
``upstream_failed`` states it causes. Each run gets its own child (the parent changes the lake between
runs with Spark); both use the same Airflow home and platform state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edp.lake.intervals import Interval

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = "warehouse_load.py"


def run_in_child(dag_path: str, interval_start: str, interval_end: str, result_path: str) -> None:
    """Child-process entry point: initialise Airflow's DB, run the DAG once, report states and the warehouse."""
    import importlib.util

    from airflow.utils.db import initdb

    from edp.config import get_config
    from edp.serving.names import dashboard_dir
    from tests.integration.serving_lake import fact_snapshot, scalar

    initdb()
    spec = importlib.util.spec_from_file_location("warehouse_load", dag_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag_run = module.warehouse_load_dag.test(
        run_conf={"interval_start": interval_start, "interval_end": interval_end}
    )
    config = get_config()
    index = dashboard_dir(config) / "index.html"
    result = {
        "state": str(dag_run.state),
        "tis": {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()},
        "warehouse": json.loads(json.dumps(fact_snapshot(config), default=str)),
        "min_revenue": str(
            scalar(config, f"SELECT MIN(revenue) FROM {config.redshift.schema}.fact_revenue_daily")
        ),
        "dashboard_mtime": index.stat().st_mtime_ns if index.exists() else None,
    }
    Path(result_path).write_text(json.dumps(result))


def _child(tmp: Path, lake: Path, interval: Interval, name: str) -> tuple[dict[str, Any], str]:
    home, dags = tmp / "airflow-home", tmp / "dags"
    home.mkdir(exist_ok=True)
    dags.mkdir(exist_ok=True)
    # dag.test() serialises the DAG from the folder it was loaded from: one holding only this DAG
    dag_path = dags / DAG_FILE
    dag_path.write_text((REPO_ROOT / "dags" / DAG_FILE).read_text())
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(
            str(p) for p in (REPO_ROOT / "include", REPO_ROOT, REPO_ROOT / "plugins")
        ),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PLATFORM_ENV": "local",
        "PLATFORM_PROJECT_ROOT": str(REPO_ROOT),
        "PLATFORM__LOCAL_STATE_DIR": str(tmp / "state"),
        "PLATFORM__LAKE__ROOT": str(lake),
        # no AWS credentials: the failure callback's SNS publish fails fast instead of reaching anything
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result_path, log_path = tmp / f"{name}.json", tmp / f"{name}.log"
    # a script, not `python -c`: pyspark.sql.connect (imported by GX) calls sys.exit(0) when __main__ has no file
    argv = [
        sys.executable,
        __file__,
        str(dag_path),
        interval.start.isoformat(),
        interval.end.isoformat(),
        str(result_path),
    ]
    with open(log_path, "wb") as log:
        completed = subprocess.run(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, check=False
        )
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-80:])
    if completed.returncode != 0 or not result_path.exists():
        raise AssertionError(f"dag.test() child {name} failed ({completed.returncode}):\n{tail}")
    return json.loads(result_path.read_text()), tail


def run_warehouse_load_twice(
    tmp: Path, lake: Path, *, corrupt: Callable[[], None], interval: Interval
) -> dict[str, Any]:
    """Run the DAG on the clean lake, corrupt it, run again; both outcomes and the warehouse after each."""
    clean, clean_log = _child(tmp, lake, interval, "clean")
    corrupt()
    corrupted, corrupted_log = _child(tmp, lake, interval, "corrupted")
    return {
        "clean": clean,
        "corrupted": corrupted,
        "warehouse_after_clean": clean["warehouse"],
        "warehouse_after_corrupted": corrupted["warehouse"],
        "min_revenue_after_corrupted": float(corrupted["min_revenue"]),
        "dashboard_mtime_after_clean": clean["dashboard_mtime"],
        "dashboard_mtime_after_corrupted": corrupted["dashboard_mtime"],
        "log_tail": clean_log + "\n---\n" + corrupted_log,
    }


if __name__ == "__main__":
    run_in_child(*sys.argv[1:5])
