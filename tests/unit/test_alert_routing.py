"""Failure routing: failures that choose their alert, once-per-incident alerts, freshness, alert metrics."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from moto import mock_aws

from edp.alerting.alerts import build_failure_alert, failure_overrides
from edp.alerting.failures import FreshnessDeadlineMissed, QualityGateFailed, raise_quality_gate_alert
from edp.alerting.incidents import IncidentStore, open_or_continue, resolve
from edp.alerting.notifier import PlatformAlertNotifier
from edp.config import get_config
from edp.monitoring.freshness import FreshnessReading, check_freshness
from edp.monitoring.metrics import ALERTS_METRIC, NAMESPACE
from edp.orchestration.state import FileStateStore

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RUN_ID = "scheduled__2026-03-01T11:55:00+00:00"


# ---- fixtures -----------------------------------------------------------------------------------
def failure_context(
    exception: BaseException | str, dag_id: str = "data_freshness", task_id: str = "check"
) -> dict:
    ti = SimpleNamespace(
        dag_id=dag_id, task_id=task_id, run_id=RUN_ID, try_number=1, map_index=-1, log_url="http://af/log"
    )
    return {"ti": ti, "run_id": RUN_ID, "logical_date": NOW, "exception": exception}


@pytest.fixture
def platform_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Local platform config with its state dir under tmp_path, fake AWS credentials, moto's account."""

    def use(env: str = "local"):
        for key in list(os.environ):
            if key.startswith(("AWS_", "PLATFORM_", "AIRFLOW_CONN_")):
                monkeypatch.delenv(key)
        monkeypatch.setenv("PLATFORM_ENV", env)
        monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path / "state"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
        config = get_config()
        monkeypatch.setenv("MOTO_ACCOUNT_ID", config.aws_account_id)
        monkeypatch.setenv(
            "AIRFLOW_CONN_AWS_DEFAULT",
            json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"region_name": config.stream.region},
                }
            ),
        )
        return config

    return use


def alert_inbox(config) -> str:
    """The alert topic with an SQS queue subscribed (raw delivery); returns the queue URL."""
    sns = boto3.client("sns", region_name=config.stream.region)
    sqs = boto3.client("sqs", region_name=config.stream.region)
    topic = sns.create_topic(Name=config.sns.alerts_topic)["TopicArn"]
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return queue_url


def received(config, queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=config.stream.region)
    out = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return out


# ---- failures that choose their alert -----------------------------------------------------------------
def test_quality_gate_helper_fails_without_retry_and_names_the_failed_expectations() -> None:
    with pytest.raises(QualityGateFailed) as raised:
        raise_quality_gate_alert(
            suite="silver_events_contract",
            table="silver.events",
            failed_expectations=[f"expect_{i}" for i in range(12)],
            evaluated=40,
            data_docs_url="https://docs.test/run.html",
        )

    exc = raised.value
    assert isinstance(exc, AirflowFailException)  # Airflow fails the task at once: no retries
    assert str(exc) == (
        "suite silver_events_contract on silver.events: 12 of 40 expectations failed "
        "(expect_0, expect_1, expect_2 and 9 more)"
    )
    assert exc.alert_details["failed_expectations"] == [f"expect_{i}" for i in range(10)]
    assert exc.alert_details["data_docs_url"] == "https://docs.test/run.html"


def test_a_failure_that_names_its_alert_overrides_the_callback_defaults() -> None:
    try:
        raise_quality_gate_alert(suite="s", failed_expectations=["e1"], evaluated=3)
    except QualityGateFailed as exc:
        context = failure_context(exc, dag_id="gold_build", task_id="quality_gate")

    alert = build_failure_alert(context, environment="local", now=NOW)

    assert alert["alert_kind"] == "quality_gate_failed"
    assert alert["runbook"] == "docs/runbooks/quality_gate_failed.md"
    assert alert["title"] == "Quality gate failed: gold_build.quality_gate (try 1)"
    assert alert["error"] == "QualityGateFailed: suite s: 1 of 3 expectations failed (e1)"
    assert alert["details"] == {"suite": "s", "failed": 1, "evaluated": 3, "failed_expectations": ["e1"]}
    assert alert["dedup_key"] == f"gold_build/quality_gate/{RUN_ID}/1"


def test_an_ordinary_exception_keeps_the_task_failure_alert_unchanged() -> None:
    context = failure_context(ValueError("boom"))

    assert failure_overrides(ValueError("boom")) == {}
    alert = build_failure_alert(context, environment="local", now=NOW)
    assert alert["alert_kind"] == "task_failure" and "details" not in alert and "incident_id" not in alert


# ---- incidents: one alert per incident --------------------------------------------------------------------
def test_incident_store_opens_continues_and_resolves(tmp_path) -> None:
    store = IncidentStore(FileStateStore(tmp_path))

    first = open_or_continue(store, "freshness_deadline_missed", NOW, "stale 1")
    again = open_or_continue(store, "freshness_deadline_missed", NOW + timedelta(minutes=5), "stale 2")
    closed = resolve(store, "freshness_deadline_missed", NOW + timedelta(minutes=10))
    after = open_or_continue(store, "freshness_deadline_missed", NOW + timedelta(minutes=15), "stale 3")

    assert again.id == first.id and again.failures == 2 and again.detail == "stale 2"
    assert closed is not None and closed.id == first.id and not closed.is_open
    assert after.id != first.id and after.is_open
    assert resolve(store, "other_kind", NOW) is None


@pytest.mark.disable_socket
def test_an_incident_is_alerted_once_however_many_runs_fail(platform_env) -> None:
    config = platform_env("local")
    store = IncidentStore(FileStateStore(config.state_dir))
    with mock_aws():
        inbox = alert_inbox(config)
        for minute in (0, 5, 10):
            incident = open_or_continue(
                store, "freshness_deadline_missed", NOW + timedelta(minutes=minute), "stale"
            )
            exc = FreshnessDeadlineMissed("silver.events is stale", incident_id=incident.id)
            PlatformAlertNotifier()(failure_context(exc))
        alerts = received(config, inbox)

    assert len(alerts) == 1
    assert alerts[0]["alert_kind"] == "freshness_deadline_missed"
    assert alerts[0]["dedup_key"] == f"freshness_deadline_missed/{incident.id}"
    assert store.load("freshness_deadline_missed").alerted_at is not None


@pytest.mark.disable_socket
def test_an_incident_alert_that_could_not_be_published_is_tried_again_on_the_next_failure(
    platform_env,
) -> None:
    config = platform_env("local")
    store = IncidentStore(FileStateStore(config.state_dir))
    incident = open_or_continue(store, "freshness_deadline_missed", NOW, "stale")
    exc = FreshnessDeadlineMissed("stale", incident_id=incident.id)
    with mock_aws():
        with pytest.raises(Exception, match=r"NotFound|does not exist"):
            PlatformAlertNotifier()(failure_context(exc))  # no topic yet: the publish fails
        assert store.load("freshness_deadline_missed").alerted_at is None
        inbox = alert_inbox(config)
        PlatformAlertNotifier()(failure_context(exc))
        alerts = received(config, inbox)

    assert [a["dedup_key"] for a in alerts] == [f"freshness_deadline_missed/{incident.id}"]


@pytest.mark.disable_socket
def test_on_aws_each_alert_is_counted_in_cloudwatch_by_kind(platform_env) -> None:
    config = platform_env("aws")
    with mock_aws():
        inbox = alert_inbox(config)
        try:
            raise_quality_gate_alert(suite="s", failed_expectations=["e"], evaluated=1)
        except QualityGateFailed as exc:
            PlatformAlertNotifier()(failure_context(exc))
        PlatformAlertNotifier()(failure_context(RuntimeError("boom")))
        metrics = boto3.client("cloudwatch", region_name=config.stream.region).list_metrics(
            Namespace=NAMESPACE
        )
        assert len(received(config, inbox)) == 2

    kinds = sorted(
        d["Value"] for m in metrics["Metrics"] if m["MetricName"] == ALERTS_METRIC for d in m["Dimensions"]
    )
    assert kinds == ["quality_gate_failed", "task_failure"]


@pytest.mark.disable_socket
def test_locally_each_alert_is_counted_in_the_metrics_file_by_kind(platform_env) -> None:
    config = platform_env("local")
    with mock_aws():
        inbox = alert_inbox(config)
        for _ in range(2):
            PlatformAlertNotifier()(failure_context(RuntimeError("boom")))
        assert len(received(config, inbox)) == 2

    counts = json.loads((config.state_dir / "monitoring" / "platform_metrics.json").read_text())
    assert counts["Alerts[AlertKind=task_failure]"]["value"] == 2.0


# ---- freshness -------------------------------------------------------------------------------------------
def commit_at(moment: datetime | None):
    return lambda location: moment


def test_fresh_data_passes_and_closes_an_open_incident(platform_env) -> None:
    config = platform_env("local")
    store = IncidentStore(FileStateStore(config.state_dir))
    opened = open_or_continue(store, "freshness_deadline_missed", NOW - timedelta(minutes=20), "stale")

    result = check_freshness(
        config,
        max_age=timedelta(minutes=15),
        location="/lake/silver/events",
        newest_commit=commit_at(NOW - timedelta(minutes=2)),
        store=store,
        now=NOW,
    )

    assert result["fresh"] is True and result["age_seconds"] == 120.0
    assert result["resolved_incident"] == opened.id
    assert not store.load("freshness_deadline_missed").is_open


def test_stale_data_fails_with_the_incident_and_the_reading(platform_env) -> None:
    config = platform_env("local")
    store = IncidentStore(FileStateStore(config.state_dir))
    readings: list[FreshnessReading] = []

    with pytest.raises(FreshnessDeadlineMissed) as raised:
        check_freshness(
            config,
            max_age=timedelta(minutes=15),
            location="/lake/silver/events",
            newest_commit=commit_at(NOW - timedelta(minutes=22)),
            store=store,
            now=NOW,
            publish_metric=readings.append,
        )

    exc = raised.value
    assert "newest commit is 1320s old (bound 900s" in str(exc)
    assert exc.incident_id == store.load("freshness_deadline_missed").id
    assert exc.alert_details["age_seconds"] == 1320.0 and exc.alert_details["failed_checks"] == 1
    assert [r.age for r in readings] == [timedelta(minutes=22)]  # the metric is published either way


def test_a_table_without_commits_is_skipped_not_alerted(platform_env) -> None:
    config = platform_env("local")
    store = IncidentStore(FileStateStore(config.state_dir))

    with pytest.raises(AirflowSkipException, match="no commits"):
        check_freshness(config, location="/nowhere", newest_commit=commit_at(None), store=store, now=NOW)
    assert store.load("freshness_deadline_missed") is None
