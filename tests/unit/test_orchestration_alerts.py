"""Alert payloads, the SNS notifier, and the task-level failure callback firing in a real DAG run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from edp.alerting.alerts import (
    SNS_SUBJECT_LIMIT,
    Severity,
    alert_subject,
    build_alert,
    dedup_key,
    message_attributes,
    runbook_path,
    summarise_error,
)
from edp.alerting.notifier import PlatformAlertNotifier
from edp.config import get_config
from edp.orchestration.defaults import platform_dag_kwargs, platform_default_args

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_KEY = "testing"
RUN_ID = "scheduled__2026-03-01T10:00:00+00:00"
LOG_URL = "http://127.0.0.1:8080/dags/events_to_silver/runs/scheduled__2026-03-01T10%3A00%3A00%2B00%3A00/tasks/merge"


# ---- fixtures and helpers ----------------------------------------------------------------------
@pytest.fixture
def failure_context() -> dict[str, Any]:
    """What Airflow 3 hands an on_failure_callback: ti (RuntimeTaskInstance), dates, the exception."""
    ti = SimpleNamespace(
        dag_id="events_to_silver",
        task_id="merge",
        run_id=RUN_ID,
        try_number=3,
        map_index=-1,
        log_url=LOG_URL,
    )
    start = datetime(2026, 3, 1, 9, 50, tzinfo=UTC)
    return {
        "ti": ti,
        "task_instance": ti,
        "run_id": RUN_ID,
        "logical_date": start,
        "data_interval_start": start,
        "data_interval_end": start + timedelta(minutes=10),
        "exception": ValueError(
            "merge failed: 12 rows violate the schema\nTraceback line that stays in logs"
        ),
    }


@pytest.fixture
def offline_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials for moto, no real endpoint, and moto's account = the platform's account."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "PLATFORM_", "AIRFLOW_CONN_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("MOTO_ACCOUNT_ID", get_config().aws_account_id)
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{get_config().connections.aws.upper()}",
        aws_connection_json(get_config().stream.region),
    )


def aws_connection_json(region: str) -> str:
    """The aws connection as the local runtime writes it, minus the endpoint (moto intercepts in-process)."""
    return json.dumps(
        {"conn_type": "aws", "login": LOCAL_KEY, "password": LOCAL_KEY, "extra": {"region_name": region}}
    )


def subscribe_queue_to_alert_topic(region: str, topic_name: str) -> str:
    """Create the alert topic and an SQS queue subscribed with raw delivery; return the queue URL."""
    sns = boto3.client("sns", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    topic_arn = sns.create_topic(Name=topic_name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    return queue_url


def drain_queue(region: str, queue_url: str) -> list[dict[str, Any]]:
    """Every message in the queue: JSON body plus string message attributes."""
    sqs = boto3.client("sqs", region_name=region)
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
    ).get("Messages", []):
        for message in batch:
            attributes = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
            messages.append({"body": json.loads(message["Body"]), "attributes": attributes})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


# ---- payload -----------------------------------------------------------------------------------
def test_alert_payload_names_the_failed_task_instance_and_its_error(failure_context) -> None:
    now = datetime(2026, 3, 1, 10, 7, 30, tzinfo=UTC)
    alert = build_alert(
        failure_context, alert_kind="task_failure", severity=Severity.ERROR, environment="local", now=now
    )

    assert alert == {
        "schema_version": 1,
        "alert_kind": "task_failure",
        "severity": "error",
        "environment": "local",
        "title": "Task failure: events_to_silver.merge (try 3)",
        "dag_id": "events_to_silver",
        "task_id": "merge",
        "map_index": -1,
        "run_id": RUN_ID,
        "try_number": 3,
        "logical_date": "2026-03-01T09:50:00+00:00",
        "data_interval_start": "2026-03-01T09:50:00+00:00",
        "data_interval_end": "2026-03-01T10:00:00+00:00",
        "error": "ValueError: merge failed: 12 rows violate the schema",
        "log_url": LOG_URL,
        "runbook": "docs/runbooks/task_failure.md",
        "dedup_key": f"events_to_silver/merge/{RUN_ID}/3",
        "emitted_at": "2026-03-01T10:07:30+00:00",
    }
    assert json.loads(json.dumps(alert)) == alert


def test_manual_run_without_logical_date_still_builds_an_alert(failure_context) -> None:
    failure_context.update(logical_date=None, data_interval_start=None, data_interval_end=None)
    failure_context["exception"] = "Task received SIGTERM"  # Airflow passes some failures as strings

    alert = build_alert(failure_context, environment="aws")

    assert (alert["logical_date"], alert["data_interval_start"], alert["data_interval_end"]) == (None,) * 3
    assert alert["error"] == "Error: Task received SIGTERM"
    assert alert["environment"] == "aws"


def test_long_error_messages_are_truncated_to_a_summary() -> None:
    summary = summarise_error(RuntimeError("x" * 5000), limit=120)
    assert len(summary) == 120
    assert summary.startswith("RuntimeError: xxx")
    assert summary.endswith("...")


def test_dedup_key_differs_per_try_and_per_mapped_instance() -> None:
    first = dedup_key("d", "t", "r", 1)
    assert first == "d/t/r/1"
    assert dedup_key("d", "t", "r", 2) != first
    assert dedup_key("d", "t", "r", 1, map_index=4) == "d/t[4]/r/1"


def test_sns_subject_is_short_printable_ascii(failure_context) -> None:
    failure_context["ti"].dag_id = "ünïcode_" + "d" * 150
    alert = build_alert(failure_context, environment="local", severity="critical")

    subject = alert_subject(alert)

    assert len(subject) <= SNS_SUBJECT_LIMIT
    assert subject.isascii() and subject.isprintable()
    assert subject.startswith("[CRITICAL][local] Task failure: ")


def test_alert_kind_must_be_a_slug_because_it_names_a_runbook_file() -> None:
    assert runbook_path("platform_unhealthy") == "docs/runbooks/platform_unhealthy.md"
    with pytest.raises(ValueError, match="lower-case slug"):
        runbook_path("../../etc/passwd")
    with pytest.raises(ValueError, match="lower-case slug"):
        PlatformAlertNotifier(alert_kind="Task Failure")


# ---- defaults ----------------------------------------------------------------------------------
def test_platform_default_args_retry_with_backoff_and_alert_on_failure() -> None:
    args = platform_default_args()

    assert args["owner"] == "data-platform"
    assert args["retries"] == 2
    assert args["retry_delay"] == timedelta(minutes=1)
    # Airflow 3.1+ treats this as a multiplier: True would equal 1.0, i.e. no backoff at all.
    assert args["retry_exponential_backoff"] == 2.0
    assert args["max_retry_delay"] > args["retry_delay"]
    callback = args["on_failure_callback"]
    assert isinstance(callback, PlatformAlertNotifier)
    assert (callback.alert_kind, callback.severity) == ("task_failure", Severity.ERROR)


def test_overrides_replace_defaults_and_dag_kwargs_carry_them() -> None:
    args = platform_default_args(retries=0, owner="ingest")
    assert (args["retries"], args["owner"]) == (0, "ingest")

    kwargs = platform_dag_kwargs(tags=["ingest"], max_active_runs=3)
    assert kwargs["catchup"] is False
    assert kwargs["max_active_runs"] == 3
    assert kwargs["tags"] == ["ingest", "platform"]
    assert "schedule" not in kwargs  # each DAG states its own
    assert kwargs["default_args"]["retries"] == 2


# ---- notifier -> SNS ---------------------------------------------------------------------------
@pytest.mark.disable_socket
def test_notifier_publishes_exactly_one_alert_to_the_topic(offline_aws, failure_context) -> None:
    config = get_config()
    with mock_aws():
        queue_url = subscribe_queue_to_alert_topic(config.stream.region, config.sns.alerts_topic)

        PlatformAlertNotifier(alert_kind="task_failure", severity="error")(failure_context)

        messages = drain_queue(config.stream.region, queue_url)

    assert len(messages) == 1
    body, attributes = messages[0]["body"], messages[0]["attributes"]
    assert body["dag_id"] == "events_to_silver"
    assert body["task_id"] == "merge"
    assert body["try_number"] == 3
    assert body["dedup_key"] == f"events_to_silver/merge/{RUN_ID}/3"
    assert body["environment"] == "local"
    assert body["log_url"] == LOG_URL
    assert attributes == {
        "alert_kind": "task_failure",
        "severity": "error",
        "dag_id": "events_to_silver",
        "environment": "local",
    }
    assert message_attributes(body) == attributes


# ---- the callback fires in a real DAG run ------------------------------------------------------
PROBE_DAG = """
from datetime import UTC, datetime

from airflow.sdk import DAG, task

from edp.orchestration.defaults import platform_default_args

with DAG(
    "alert_probe",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    default_args=platform_default_args(retries=0),
) as dag:

    @task
    def explode():
        raise RuntimeError("probe failure: the warehouse is on fire\\nsecond line stays in the log")

    explode()
"""


def run_probe_dag_in_this_process(dag_path: str, result_path: str) -> None:
    """Child-process entry point: ``dag.test()`` the probe DAG inside mock_aws and record what SNS got.

    Runs in a fresh interpreter because Airflow fixes its metadata DB, AIRFLOW_HOME and DAGs folder
    when ``airflow`` is first imported; a test process that already imported Airflow cannot switch.
    """
    import importlib.util

    from airflow.utils.db import initdb

    initdb()
    config = get_config()
    with mock_aws():
        queue_url = subscribe_queue_to_alert_topic(config.stream.region, config.sns.alerts_topic)
        spec = importlib.util.spec_from_file_location("alert_probe", dag_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        dag_run = module.dag.test()
        messages = drain_queue(config.stream.region, queue_url)
    tis = {
        ti.task_id: {"state": str(ti.state), "try_number": ti.try_number}
        for ti in dag_run.get_task_instances()
    }
    result = {"run_id": dag_run.run_id, "state": str(dag_run.state), "tis": tis, "messages": messages}
    Path(result_path).write_text(json.dumps(result))


@pytest.fixture
def probe_airflow_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A clean environment for a throwaway Airflow: sqlite DB and DAGs folder under tmp_path."""
    home, dags = tmp_path / "airflow-home", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    config = get_config()
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
        "AIRFLOW__API__BASE_URL": "http://airflow.test:8080",
        "AIRFLOW_CONN_AWS_DEFAULT": aws_connection_json(config.stream.region),
        "PLATFORM_ENV": "local",
        "PLATFORM_PROJECT_ROOT": str(REPO_ROOT),
        "MOTO_ACCOUNT_ID": config.aws_account_id,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
    }
    yield env


@pytest.mark.timeout(300)
def test_task_failure_callback_publishes_one_alert_on_the_final_failure(
    probe_airflow_env: dict[str, str], tmp_path: Path
) -> None:
    dag_path = Path(probe_airflow_env["AIRFLOW__CORE__DAGS_FOLDER"]) / "alert_probe.py"
    dag_path.write_text(PROBE_DAG)
    result_path, log_path = tmp_path / "result.json", tmp_path / "child.log"
    child = (
        f"from {Path(__file__).stem} import run_probe_dag_in_this_process as run; "
        f"run({str(dag_path)!r}, {str(result_path)!r})"
    )
    with open(log_path, "wb") as log:
        completed = subprocess.run(
            [sys.executable, "-c", child],
            env=probe_airflow_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    log_tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
    assert completed.returncode == 0, f"dag.test() child failed:\n{log_tail}"
    result = json.loads(result_path.read_text())

    assert result["state"] == "failed"
    assert result["tis"] == {"explode": {"state": "failed", "try_number": 1}}
    assert len(result["messages"]) == 1, f"expected exactly one alert, got {result['messages']}\n{log_tail}"
    alert = result["messages"][0]["body"]
    assert (alert["dag_id"], alert["task_id"], alert["try_number"]) == ("alert_probe", "explode", 1)
    assert alert["run_id"] == result["run_id"]
    assert alert["dedup_key"] == f"alert_probe/explode/{result['run_id']}/1"
    assert alert["error"] == "RuntimeError: probe failure: the warehouse is on fire"
    assert alert["log_url"].startswith("http://airflow.test:8080/dags/alert_probe/runs/")
    assert alert["log_url"].endswith("/tasks/explode?try_number=1")
    assert alert["runbook"] == "docs/runbooks/task_failure.md"
    assert result["messages"][0]["attributes"]["alert_kind"] == "task_failure"
