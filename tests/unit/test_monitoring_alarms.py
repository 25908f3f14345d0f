"""CloudWatch alarms as code: applied idempotently (moto), and the remote task logging settings."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from edp.config import get_config
from edp.monitoring import apply_platform_monitoring
from edp.monitoring.alarms import ALARM_PREFIX, apply_alarms, platform_alarms
from edp.monitoring.remote_logging import TASK_LOG_GROUP, ensure_log_group, remote_logging_environment

pytestmark = [pytest.mark.unit, pytest.mark.disable_socket]


@pytest.fixture
def aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for key in list(os.environ):
        if key.startswith(("AWS_", "PLATFORM_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    monkeypatch.setenv("PLATFORM__AWS_ACCOUNT_ID", "123456789012")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return get_config()


@pytest.fixture
def cloudwatch(aws_config):
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=aws_config.stream.region)


def alarms_by_name(client) -> dict[str, dict]:
    return {a["AlarmName"]: a for a in client.describe_alarms(AlarmNamePrefix=ALARM_PREFIX)["MetricAlarms"]}


def test_every_alarm_publishes_to_the_alert_topic_and_names_a_runbook_section(aws_config) -> None:
    specs = platform_alarms(aws_config)
    runbook = (Path(__file__).resolve().parents[2] / "docs/runbooks/cloudwatch_alarm.md").read_text()

    assert {spec.name for spec in specs} == {
        "edp-platform-kinesis-iterator-age",
        "edp-platform-streaming-heartbeat",
        "edp-platform-data-freshness",
        "edp-platform-dag-task-failures",
        "edp-platform-quality-gate-failures",
    }
    for spec in specs:
        request = spec.request()
        assert request["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:edp-platform-alerts"]
        assert request["OKActions"] == request["AlarmActions"]
        assert request["AlarmDescription"].endswith(
            f"Runbook: docs/runbooks/cloudwatch_alarm.md#{spec.runbook_anchor}"
        )
        assert f"## {spec.runbook_anchor}" in runbook
    iterator = next(s for s in specs if s.metric == "GetRecords.IteratorAgeMilliseconds").request()
    assert iterator["Dimensions"] == [{"Name": "StreamName", "Value": aws_config.stream.name}]
    assert (iterator["Threshold"], iterator["Statistic"]) == (300_000.0, "Maximum")


def test_apply_creates_then_leaves_unchanged_then_updates_only_what_changed(aws_config, cloudwatch) -> None:
    specs = platform_alarms(aws_config)

    first = apply_alarms(cloudwatch, specs)
    second = apply_alarms(cloudwatch, specs)
    changed = [
        dataclasses.replace(s, threshold=s.threshold * 2) if "iterator" in s.name else s for s in specs
    ]
    third = apply_alarms(cloudwatch, changed)

    assert sorted(first["created"]) == sorted(s.name for s in specs) and not first["updated"]
    assert not second["created"] and not second["updated"] and len(second["unchanged"]) == len(specs)
    assert third["updated"] == ["edp-platform-kinesis-iterator-age"]
    stored = alarms_by_name(cloudwatch)
    assert stored["edp-platform-kinesis-iterator-age"]["Threshold"] == 600_000.0
    assert stored["edp-platform-data-freshness"]["TreatMissingData"] == "breaching"


def test_prune_deletes_retired_platform_alarms_but_not_others(aws_config, cloudwatch) -> None:
    specs = platform_alarms(aws_config)
    apply_alarms(cloudwatch, specs)
    retired = dataclasses.replace(specs[0], name=f"{ALARM_PREFIX}retired")
    foreign = dataclasses.replace(specs[0], name="someone-elses-alarm")
    apply_alarms(cloudwatch, [retired, foreign])

    dry = apply_alarms(cloudwatch, specs, prune=True, dry_run=True)
    assert f"{ALARM_PREFIX}retired" in alarms_by_name(cloudwatch)  # a dry run changes nothing
    report = apply_alarms(cloudwatch, specs, prune=True)

    assert dry["deleted"] == [f"{ALARM_PREFIX}retired"]
    assert report["deleted"] == [f"{ALARM_PREFIX}retired"]
    names = {a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert f"{ALARM_PREFIX}retired" not in names and "someone-elses-alarm" in names


def test_apply_platform_monitoring_also_ensures_the_task_log_group(aws_config, cloudwatch) -> None:
    logs = boto3.client("logs", region_name=aws_config.stream.region)

    report = apply_platform_monitoring(aws_config, cloudwatch, logs)
    again = ensure_log_group(logs)

    assert report["task_log_group"] == {"name": TASK_LOG_GROUP, "created": True}
    assert again is False
    [group] = logs.describe_log_groups(logGroupNamePrefix=TASK_LOG_GROUP)["logGroups"]
    assert group["retentionInDays"] == 30


def test_remote_logging_sends_task_logs_to_the_cloudwatch_log_group(aws_config) -> None:
    env = remote_logging_environment(aws_config)

    assert env == {
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": (
            "cloudwatch://arn:aws:logs:us-east-1:123456789012:log-group:/edp/airflow/task-logs"
        ),
        "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": "aws_default",
        "AIRFLOW__LOGGING__DELETE_LOCAL_LOGS": "True",
    }
    # The amazon provider takes the log group name from field 6 of the ARN after cloudwatch://.
    arn = env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"].removeprefix("cloudwatch://")
    assert arn.split(":")[6] == TASK_LOG_GROUP and arn.split(":")[3] == "us-east-1"
