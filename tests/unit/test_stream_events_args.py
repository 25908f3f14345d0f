"""The streaming entry point's arguments and the PII salt it loads (no Spark started)."""

from __future__ import annotations

import importlib.util
import os
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

from edp.config import get_config
from edp.spark_runtime.wheel import build_job_wheel
from edp.stream.pii import LOCAL_DEV_SALT, MissingSaltError, load_pii_salt

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[2] / "include" / "spark" / "stream_events.py"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key == "PLATFORM_ENV" or key.startswith(("PLATFORM__", "PII_HASH_SALT", "DATABRICKS_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def stream_events() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stream_events", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_local_defaults_read_kinesis_local_and_checkpoint_under_the_lake(
    stream_events: ModuleType, tmp_path: Path
) -> None:
    args = stream_events.parse_args([])
    cfg = get_config()

    assert args.source == "kinesis_local"
    assert args.lake_root == cfg.lake.root
    assert args.checkpoint_dir == f"{cfg.lake.root}/_checkpoints/stream_events"
    assert (args.stream_name, args.region, args.endpoint_url) == (
        cfg.stream.name,
        cfg.stream.region,
        cfg.stream.endpoint_url,
    )
    assert (args.trigger_seconds, args.available_now, args.initial_position) == (3.0, False, "trim_horizon")
    assert args.metrics_sink == "file"
    assert args.metrics_path == str(tmp_path / "state" / "streaming" / "metrics.json")
    assert args.source_metrics_path == str(tmp_path / "state" / "streaming" / "kinesis_source_metrics.json")


def test_on_databricks_the_native_kinesis_source_and_cloudwatch_are_chosen(
    stream_events: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")  # sniffed no more: the launcher says

    args = stream_events.parse_args(
        [
            "--engine",
            "databricks",
            "--platform-env",
            "aws",
            "--lake-root",
            "s3://bucket/lake",
            "--available-now",
        ]
    )

    assert (args.source, args.metrics_sink) == ("kinesis", "cloudwatch")
    assert args.checkpoint_dir == "s3://bucket/lake/_checkpoints/stream_events"
    assert args.available_now
    assert not args.spark_engine.builds_session, "Databricks owns the session"
    assert stream_events.parse_args([]).source == "kinesis_local"


def test_explicit_arguments_win_and_nonsense_is_refused(stream_events: ModuleType) -> None:
    args = stream_events.parse_args(
        ["--source", "kinesis_local", "--checkpoint-dir", "/tmp/cp", "--trigger-seconds", "0.5"]
    )
    assert (args.checkpoint_dir, args.trigger_seconds) == ("/tmp/cp", 0.5)

    with pytest.raises(SystemExit):
        stream_events.parse_args(["--trigger-seconds", "0"])
    with pytest.raises(SystemExit):
        stream_events.parse_args(["--source", "kafka"])


def test_the_job_wheel_ships_every_edp_module_the_script_imports(
    stream_events: ModuleType, tmp_path: Path
) -> None:
    include = SCRIPT.parents[1]
    imported = {
        Path(module.__file__).resolve().relative_to(include).as_posix()
        for name, module in list(sys.modules.items())
        if name.split(".")[0] == "edp" and getattr(module, "__file__", None)
    }
    wheel = zipfile.ZipFile(build_job_wheel(tmp_path / "build"))

    assert not hasattr(stream_events, "PACKAGES")  # no per-script package list: the wheel is the artifact
    assert "edp/spark_runtime/session.py" in imported and imported <= set(wheel.namelist())


def test_local_runs_fall_back_to_the_development_salt() -> None:
    assert load_pii_salt({}) == LOCAL_DEV_SALT
    assert load_pii_salt({"PII_HASH_SALT": "a-long-enough-test-salt"}) == "a-long-enough-test-salt"


def test_outside_local_a_missing_or_short_salt_stops_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_ENV", "aws")

    with pytest.raises(MissingSaltError, match="is not set"):
        load_pii_salt({})
    with pytest.raises(MissingSaltError, match="shorter than 16"):
        load_pii_salt({"PII_HASH_SALT": "short"})


def test_on_aws_the_salt_is_read_from_secrets_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=get_config().stream.region)
        arn = client.create_secret(Name="edp/pii-hash-salt", SecretString="salt-from-secrets-manager")["ARN"]

        assert load_pii_salt({"PII_HASH_SALT_SECRET_ID": arn}) == "salt-from-secrets-manager"
