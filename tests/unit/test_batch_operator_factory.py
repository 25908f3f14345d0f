"""The batch-job factory picks local spark-submit, Glue or Databricks from the configuration alone."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from airflow.sdk import DAG, Asset
from moto import mock_aws

from edp.batch.spark_submit import SparkSubmitLocalOperator, json_object
from edp.batch.tasks import (
    COMPACTION_JOB,
    GOLD_JOB,
    REPLAY_JOB,
    GlueArtifactsUploadOperator,
    batch_engine,
    batch_job_tasks,
)
from edp.config import get_config
from edp.config.settings import Environment
from edp.orchestration.runtime import LAKE_ROOT_TEMPLATE

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
WHEEL = "edp-0.1.0-py3-none-any.whl"
ARGS = {"--start": "{{ data_interval_start.isoformat() }}", "--end": "{{ data_interval_end.isoformat() }}"}


@pytest.fixture
def aws_config():
    def make(engine: str):
        base = get_config()
        return dataclasses.replace(
            base,
            env=Environment.AWS,
            batch_engine=engine,
            lake=dataclasses.replace(base.lake, root="s3://edp-lake/lake"),
        )

    return make


def build(job, config, **kwargs):
    with DAG("factory_test", schedule=None, start_date=datetime(2025, 1, 1, tzinfo=UTC)) as dag:
        tasks = batch_job_tasks(job, task_id="run_job", arguments=ARGS, config=config, **kwargs)
    return dag, tasks


def test_the_local_environment_runs_the_script_under_spark_submit_with_the_job_wheel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path))  # the wheel is built under <state>/build
    config = get_config()
    assert config.env is Environment.LOCAL and batch_engine(config) == "local"
    dag, tasks = build(GOLD_JOB, config)

    assert tasks.first is tasks.last and isinstance(tasks.first, SparkSubmitLocalOperator)
    assert tasks.first.script == "include/spark/build_gold.py"
    assert (ROOT / tasks.first.script).is_file()
    assert tasks.first.application_args == [
        "--engine",
        "local",
        "--platform-env",
        "local",
        "--lake-root",
        LAKE_ROOT_TEMPLATE,
        "--start",
        ARGS["--start"],
        "--end",
        ARGS["--end"],
    ]
    assert list(dag.task_dict) == ["run_job"]
    argv, _env = tasks.first.command()
    wheel = Path(argv[argv.index("--py-files") + 1])
    assert wheel.name == WHEEL and wheel.is_relative_to(tmp_path / "build")


def test_glue_uploads_the_script_then_runs_a_deferrable_glue_5_delta_job(aws_config) -> None:
    from airflow.providers.amazon.aws.operators.glue import GlueJobOperator

    config = aws_config("glue")
    _dag, tasks = build(REPLAY_JOB, config)

    upload, run = tasks
    assert isinstance(upload, GlueArtifactsUploadOperator) and isinstance(run, GlueJobOperator)
    assert upload.downstream_task_ids == {"run_job"}
    assert run.deferrable is True
    assert run.job_name == "edp-silver-replay"
    assert (
        run.script_location == f"s3://{config.artifacts_bucket}/{config.glue.scripts_prefix}/replay_silver.py"
    )
    assert run.script_args == {
        "--engine": "glue",
        "--platform-env": "aws",
        "--lake-root": LAKE_ROOT_TEMPLATE,
        **ARGS,
    }
    assert run.create_job_kwargs["GlueVersion"] == "5.0"
    defaults = run.create_job_kwargs["DefaultArguments"]
    assert defaults["--datalake-formats"] == "delta"
    assert "DeltaSparkSessionExtension" in defaults["--conf"]
    # pip installs the wheel and its Requires-Dist (orjson, fastjsonschema; see test_job_wheel.py).
    assert (
        defaults["--additional-python-modules"]
        == f"s3://{config.artifacts_bucket}/{config.glue.scripts_prefix}/wheels/{WHEEL}"
    )
    assert "--extra-py-files" not in defaults
    assert run.iam_role_name == config.glue.iam_role_name and run.aws_conn_id == config.connections.aws


def test_glue_job_names_come_from_the_glue_config(aws_config) -> None:
    config = aws_config("glue")
    _, gold = build(GOLD_JOB, config)
    _, compaction = build(COMPACTION_JOB, config)
    assert gold.last.job_name == config.glue.gold_job
    assert compaction.last.job_name == config.glue.compaction_job
    # One artifact for every job: no per-job package list.
    modules = {
        tasks.last.create_job_kwargs["DefaultArguments"]["--additional-python-modules"]
        for tasks in (gold, compaction)
    }
    assert modules == {f"s3://{config.artifacts_bucket}/{config.glue.scripts_prefix}/wheels/{WHEEL}"}


def test_databricks_runs_the_named_job_deferrably_with_the_arguments_as_python_params(aws_config) -> None:
    from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator

    config = aws_config("databricks")
    outlet = Asset(name="gold.sessions", uri="s3://edp-lake/lake/gold/sessions")
    _, tasks = build(GOLD_JOB, config, outlets=[outlet])

    assert tasks.first is tasks.last and isinstance(tasks.first, DatabricksRunNowOperator)
    run = tasks.first
    assert run.deferrable is True
    assert run.job_name == config.databricks.gold_job
    assert run.python_params == [
        "--engine",
        "databricks",
        "--platform-env",
        "aws",
        "--lake-root",
        LAKE_ROOT_TEMPLATE,
        "--start",
        ARGS["--start"],
        "--end",
        ARGS["--end"],
    ]
    assert run.databricks_conn_id == config.connections.databricks
    assert run.outlets == [outlet]


def test_an_unknown_batch_engine_on_aws_is_refused(aws_config) -> None:
    with pytest.raises(ValueError, match="glue' or 'databricks"):
        batch_engine(aws_config("emr"))


def test_job_arguments_must_be_long_options() -> None:
    with DAG("bad_args", schedule=None, start_date=datetime(2025, 1, 1, tzinfo=UTC)):
        with pytest.raises(ValueError, match="must start with '--'"):
            batch_job_tasks(GOLD_JOB, task_id="x", arguments={"start": "2025-01-01"}, config=get_config())


@mock_aws
def test_the_glue_upload_puts_the_script_and_the_job_wheel_under_the_scripts_prefix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path))  # the wheel is built under <state>/build
    config = get_config()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=config.artifacts_bucket)
    upload = GlueArtifactsUploadOperator(
        task_id="upload", job=GOLD_JOB, bucket=config.artifacts_bucket, aws_conn_id=None
    )

    locations = upload.execute({})

    prefix = config.glue.scripts_prefix
    assert locations == {
        "script": f"s3://{config.artifacts_bucket}/{prefix}/build_gold.py",
        "wheel": f"s3://{config.artifacts_bucket}/{prefix}/wheels/{WHEEL}",
    }
    script = s3.get_object(Bucket=config.artifacts_bucket, Key=f"{prefix}/build_gold.py")["Body"].read()
    assert script == (ROOT / "include" / "spark" / "build_gold.py").read_bytes()
    archive = s3.get_object(Bucket=config.artifacts_bucket, Key=f"{prefix}/wheels/{WHEEL}")["Body"].read()
    assert archive[:2] == b"PK" and b"edp/batch/seeds/geo_countries.csv" in archive
    assert archive == next((tmp_path / "build").glob(f"wheel-*/{WHEEL}")).read_bytes()


def test_the_local_operator_returns_the_last_json_object_the_job_printed() -> None:
    assert json_object('{"tables": {"gold.sessions": 3}}') == {"tables": {"gold.sessions": 3}}
    assert json_object("26/11/25 WARN something {not json}") is None
    assert json_object("[1, 2]") is None
