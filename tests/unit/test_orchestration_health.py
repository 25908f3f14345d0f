"""The platform_health DAG's checks: local runtime report, Kinesis stream state, SNS alert topic."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from airflow.sdk.exceptions import AirflowSkipException
from moto import mock_aws

from edp.config import get_config
from edp.monitoring.health import (
    PlatformUnhealthyError,
    check_alert_topic,
    check_event_stream,
    check_local_runtime,
    summarise,
    unhealthy_components,
)
from edp.orchestration.runtime import OVERRIDES_VARIABLE, runtime_config

pytestmark = pytest.mark.unit


@pytest.fixture
def platform_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Local mode rooted in tmp_path, fake AWS credentials for moto, moto's account = the platform's."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "PLATFORM_", "AIRFLOW_CONN_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("PLATFORM_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    config = get_config()
    monkeypatch.setenv("MOTO_ACCOUNT_ID", config.aws_account_id)
    connection = {"conn_type": "aws", "login": "testing", "password": "testing"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{config.connections.aws.upper()}", json.dumps(connection))
    return tmp_path


def test_unhealthy_components_lists_each_failing_component_with_its_detail() -> None:
    status = {
        "healthy": False,
        "components": {
            "aws-endpoint": {"healthy": True, "detail": "ok"},
            "airflow-scheduler": {"healthy": False, "detail": "http://127.0.0.1:8080/...: reports unhealthy"},
            "airflow-triggerer": {"healthy": False, "detail": "not running"},
        },
    }
    assert unhealthy_components(status) == [
        "airflow-scheduler (http://127.0.0.1:8080/...: reports unhealthy)",
        "airflow-triggerer (not running)",
    ]


def test_local_runtime_check_fails_naming_every_component_when_nothing_runs(platform_env: Path) -> None:
    with pytest.raises(PlatformUnhealthyError) as failure:
        check_local_runtime(get_config())

    message = str(failure.value)
    assert "local components unhealthy" in message
    assert "aws-endpoint (not running)" in message
    assert "airflow-scheduler (not running)" in message


def test_local_runtime_check_is_skipped_in_aws_mode(platform_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    with pytest.raises(AirflowSkipException):
        check_local_runtime(get_config())


@pytest.mark.disable_socket
def test_stream_check_fails_while_the_stream_is_missing_and_passes_once_active(platform_env: Path) -> None:
    config = get_config()
    with mock_aws():
        with pytest.raises(
            PlatformUnhealthyError, match=f"Kinesis stream '{config.stream.name}' does not exist"
        ):
            check_event_stream(config)

        kinesis = boto3.client("kinesis", region_name=config.stream.region)
        kinesis.create_stream(StreamName=config.stream.name, ShardCount=2)
        facts = check_event_stream(config)

    assert facts == {"stream": config.stream.name, "status": "ACTIVE", "open_shards": 2}


@pytest.mark.disable_socket
def test_alert_topic_check_fails_without_the_topic_and_reports_subscriptions(platform_env: Path) -> None:
    config = get_config()
    with mock_aws():
        with pytest.raises(PlatformUnhealthyError, match=r"SNS alert topic .* does not exist"):
            check_alert_topic(config)

        boto3.client("sns", region_name=config.stream.region).create_topic(Name=config.sns.alerts_topic)
        facts = check_alert_topic(config)

    assert facts == {"topic_arn": config.alerts_topic_arn, "subscriptions_confirmed": 0}


def test_summary_marks_checks_without_a_result() -> None:
    assert summarise({"check_event_stream": {"status": "ACTIVE"}, "check_alert_topic": None}) == {
        "check_alert_topic": "no result",
        "check_event_stream": "ok",
    }


def test_runtime_config_applies_the_platform_overrides_variable(platform_env: Path, monkeypatch) -> None:
    variable = f"AIRFLOW_VAR_{OVERRIDES_VARIABLE.upper()}"
    monkeypatch.delenv(variable, raising=False)
    assert runtime_config() == get_config()

    monkeypatch.setenv(variable, json.dumps({"stream": {"name": "edp-events-canary"}}))
    assert runtime_config().stream.name == "edp-events-canary"

    monkeypatch.setenv(variable, json.dumps(["not", "a", "mapping"]))
    with pytest.raises(TypeError, match="must be a JSON object"):
        runtime_config()
