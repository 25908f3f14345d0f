"""The whole local alert path over real processes: Airflow task -> SNS (moto server) -> bridge -> the
sns_to_slack handler -> the Slack receiver. Exactly one message per failure; nothing lost in an outage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"

FAILING_DAG = """
from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, task

from edp.orchestration.defaults import platform_default_args

with DAG(
    "alert_path_probe",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    # One retry after a second: the first failure must not alert, the final one must, once.
    default_args=platform_default_args(retries=1, retry_delay=timedelta(seconds=1), retry_exponential_backoff=0),
) as dag:

    @task
    def load_orders():
        raise RuntimeError("orders API returned 502 for page 7\\nthe traceback stays in the task log")

    load_orders()
"""

RUN_FAILING_DAG = """
import importlib.util, json, sys
from airflow.utils.db import initdb

initdb()
spec = importlib.util.spec_from_file_location("alert_path_probe", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.dag.test()
tis = {ti.task_id: {"state": str(ti.state), "try_number": ti.try_number} for ti in run.get_task_instances()}
json.dump({"run_id": run.run_id, "state": str(run.state), "tis": tis}, open(sys.argv[2], "w"))
"""

# No table yet, data arrives, stops, stays stopped, arrives again; data_freshness runs after each step.
RUN_FRESHNESS_SCENARIO = """
import importlib.util, json, sys, time
import deltalake, pyarrow as pa
from airflow.utils.db import initdb

initdb()
silver, dag_file, result_path = sys.argv[1], sys.argv[2], sys.argv[3]
spec = importlib.util.spec_from_file_location("data_freshness_dag", dag_file)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
dag = module.data_freshness_dag
conf = {"max_age_seconds": 5}

def events(n):
    return pa.table({"event_id": [f"e{n}"], "event_type": ["page_view"]})

def check(step):
    run = dag.test(run_conf=conf)
    return {"step": step, "state": str(run.state), "run_id": run.run_id}

steps = [check("no table yet")]  # skipped; also pays the first run's start-up before the clock matters
deltalake.write_deltalake(silver, events(1))
steps.append(check("arriving"))
time.sleep(6)
steps.append(check("stopped"))
steps.append(check("still stopped"))
deltalake.write_deltalake(silver, events(2), mode="append")
steps.append(check("arriving again"))
json.dump(steps, open(result_path, "w"))
"""


@pytest.fixture
def airflow_env(alert_path, tmp_path: Path) -> dict[str, str]:
    """A throwaway Airflow (sqlite, own home and DAGs folder) whose AWS connection is the moto server."""
    home, dags = tmp_path / "airflow-home", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"region_name": "us-east-1", "endpoint_url": alert_path.moto_url},
    }
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT / "include"),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__BASE_URL": "http://airflow.test:8080",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
        "PLATFORM_PROJECT_ROOT": str(ROOT),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        **alert_path.platform_env,
    }


def run_child(code: str, args: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("wb") as out:
        completed = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=400,
        )
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    assert completed.returncode == 0, f"child process failed:\n{tail}"


def fields_of(message: dict) -> dict[str, str]:
    blocks = message["payload"]["blocks"]
    texts = [f["text"] for b in blocks if b["type"] == "section" for f in b.get("fields", [])]
    return dict(text.split("\n", 1) for text in texts)


def buttons_of(message: dict) -> dict[str, str]:
    blocks = message["payload"]["blocks"]
    return {e["text"]["text"]: e["url"] for b in blocks if b["type"] == "actions" for e in b["elements"]}


@pytest.fixture
def sns(alert_path):
    return boto3.client(
        "sns",
        endpoint_url=alert_path.moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def publish_recorded_alert(sns, alert_path, fixture: str, **changes) -> dict:
    """Publish a recorded alert (with changes) as the notifier does; returns the alert."""
    recorded = json.loads((EVENTS / fixture).read_text())["Records"][0]["Sns"]
    alert = {**json.loads(recorded["Message"]), **changes}
    sns.publish(
        TopicArn=alert_path.topic_arn, Message=json.dumps(alert, sort_keys=True), Subject=recorded["Subject"]
    )
    return alert


@pytest.fixture
def slack_up(alert_path) -> Iterator[None]:
    alert_path.recover()
    yield
    alert_path.recover()


@pytest.mark.timeout(420)
def test_a_failing_airflow_task_produces_exactly_one_complete_slack_message(
    alert_path, airflow_env, slack_up, tmp_path
) -> None:
    dag_file = Path(airflow_env["AIRFLOW__CORE__DAGS_FOLDER"]) / "alert_path_probe.py"
    dag_file.write_text(FAILING_DAG)
    before = len(alert_path.messages())

    run_child(
        RUN_FAILING_DAG, [str(dag_file), str(tmp_path / "result.json")], airflow_env, tmp_path / "child.log"
    )
    result = json.loads((tmp_path / "result.json").read_text())
    messages = alert_path.settled_messages(before, expected=1)

    assert result["state"] == "failed"
    assert result["tis"] == {"load_orders": {"state": "failed", "try_number": 2}}  # retried once, then failed
    assert len(messages) == 1, f"expected one Slack message for two failed tries, got {messages}"
    message = messages[0]
    header = next(b for b in message["payload"]["blocks"] if b["type"] == "header")["text"]["text"]
    assert header == ":red_circle: Task failure: alert_path_probe.load_orders (try 2)"
    fields = fields_of(message)
    assert {k: v for k, v in fields.items() if k != "*Data interval*"} == {
        "*DAG*": "`alert_path_probe`",
        "*Task*": "`load_orders`",
        "*Run*": f"`{result['run_id']}`",
        "*Try*": "2",
        "*Environment*": "local",
    }
    payload_text = json.dumps(message["payload"])
    assert "RuntimeError: orders API returned 502 for page 7" in payload_text
    assert "traceback stays in the task log" not in payload_text
    urls = buttons_of(message)
    assert urls["View task log"].startswith("http://airflow.test:8080/dags/alert_path_probe/runs/")
    assert urls["View task log"].endswith("/tasks/load_orders?try_number=2")
    runbook_url = f"{alert_path.receiver_url}/docs/runbooks/task_failure.md"
    assert urls["Runbook"] == runbook_url
    with urllib.request.urlopen(runbook_url, timeout=10) as response:  # the link works locally
        assert b"# Runbook: `task_failure`" in response.read()


@pytest.mark.timeout(180)
def test_a_short_slack_outage_is_ridden_out_by_retries_and_the_alert_lands_once(
    alert_path, sns, slack_up
) -> None:
    before, rejected_before = len(alert_path.messages()), alert_path.receiver_health()["rejected"]
    alert_path.outage(status=503, count=2)

    alert = publish_recorded_alert(
        sns, alert_path, "sns_alert_task_failure.json", dedup_key="it/short-outage/1"
    )

    messages = alert_path.settled_messages(before, expected=1)
    assert len(messages) == 1
    assert alert["dedup_key"] in json.dumps(messages[0]["payload"])
    assert alert_path.receiver_health()["rejected"] - rejected_before == 2
    assert all(e["dedup_key"] != alert["dedup_key"] for e in alert_path.dead_letters())


@pytest.mark.timeout(180)
def test_a_long_slack_outage_dead_letters_the_alert_and_a_redrive_delivers_it(
    alert_path, sns, slack_up
) -> None:
    before = len(alert_path.messages())
    alert_path.outage(status=503)

    alert = publish_recorded_alert(
        sns, alert_path, "sns_alert_quality_gate_failed.json", dedup_key="it/long-outage/1"
    )
    dead = alert_path.wait_for_dead_letter(alert["dedup_key"])

    assert alert_path.messages(before) == []
    assert len(dead) == 1 and "HTTP 503" in dead[0]["reason"] and dead[0]["attempts"] == 4
    assert json.loads(dead[0]["record"]["Sns"]["Message"]) == alert

    alert_path.recover()
    assert alert_path.redrive() >= 1

    messages = alert_path.settled_messages(before, expected=1)
    assert len(messages) == 1
    assert "Quality gate failed: silver_quality_gate.validate_silver_events" in messages[0]["payload"]["text"]
    assert all(e["dedup_key"] != alert["dedup_key"] for e in alert_path.dead_letters())


@pytest.mark.timeout(420)
def test_the_freshness_deadline_fires_once_when_data_stops_arriving(
    alert_path, airflow_env, slack_up, tmp_path
) -> None:
    lake = tmp_path / "lake"
    env = {**airflow_env, "PLATFORM__LAKE__ROOT": str(lake)}
    # The real DAG file, in this Airflow's DAGs folder (dag.test() serialises what the folder holds).
    dag_file = Path(airflow_env["AIRFLOW__CORE__DAGS_FOLDER"]) / "data_freshness.py"
    shutil.copy(ROOT / "dags" / "data_freshness.py", dag_file)
    before = len(alert_path.messages())

    run_child(
        RUN_FRESHNESS_SCENARIO,
        [str(lake / "silver" / "events"), str(dag_file), str(tmp_path / "steps.json")],
        env,
        tmp_path / "child.log",
    )
    steps = json.loads((tmp_path / "steps.json").read_text())
    messages = alert_path.settled_messages(before, expected=1)

    assert [(s["step"], s["state"]) for s in steps] == [
        ("no table yet", "success"),  # the check skipped: nothing has ever arrived
        ("arriving", "success"),
        ("stopped", "failed"),
        ("still stopped", "failed"),
        ("arriving again", "success"),
    ]
    freshness = [m for m in messages if "freshness_deadline_missed" in json.dumps(m["payload"])]
    assert len(freshness) == 1, f"one alert per stale period, got {len(freshness)}: {messages}"
    message = freshness[0]
    assert fields_of(message)["*DAG*"] == "`data_freshness`"
    assert fields_of(message)["*Run*"] == f"`{steps[2]['run_id']}`"
    assert "data stopped arriving" in message["payload"]["text"]
    assert buttons_of(message)["Runbook"].endswith("/docs/runbooks/freshness_deadline_missed.md")
    incident = json.loads((alert_path.state_dir / "incidents" / "freshness_deadline_missed.json").read_text())
    assert incident["closed_at"] is not None and incident["alerted_at"] is not None
    assert f"freshness_deadline_missed/{incident['id']}" in json.dumps(message["payload"])
