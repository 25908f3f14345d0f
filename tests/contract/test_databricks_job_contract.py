"""Databricks job contract (issue 13, item 3): what the bundle sends is a valid production configuration.

The jobs are built from the bundle (``databricks.yml`` + ``resources/*.yml``) for the ``prod`` target,
then the streaming job's own argument parsing (``include/spark/stream_events.py``) runs on exactly the
task parameters and cluster environment Databricks would give it, including the runtime's
``DATABRICKS_RUNTIME_VERSION`` and the secret scope's resolution of ``{{secrets/<scope>/<key>}}``.
The source options come from the script's ``read_stream`` recorded on a stand-in ``readStream``.
The batch jobs get the ``python_params`` the DAGs send (``edp.batch.tasks``).

Marker ``contract``: ``make parity`` selects these; they are also ``unit`` (offline, no Spark).
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2
import pytest

from edp.batch.tasks import BATCH_JOBS, argv, job_arguments
from edp.config import get_config
from edp.lake import STREAM_EVENTS_QUERY, checkpoint_path
from edp.spark_runtime.engines import DATABRICKS
from edp.stream.pii import SALT_VAR, load_pii_salt
from edp_infra import databricks_bundle as bundle
from edp_infra.settings import DEFAULT_TARGET_EVENTS_PER_S, aws_platform_config
from edp_infra.sizing import TargetRate, plan

pytestmark = [pytest.mark.unit, pytest.mark.contract]

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_PROFILE = "arn:aws:iam::123456789012:instance-profile/edp-databricks-jobs"
SECRET_VALUE = "salt-from-the-databricks-secret-scope-0123456789"  # what the scope holds in this test
DBR_VERSION = "16.4"
SCRIPT_FOR_JOB = {"gold": "build_gold.py", "compaction": "compact_tables.py", "replay": "replay_silver.py"}


@pytest.fixture(scope="module")
def jobs() -> dict[str, dict[str, Any]]:
    resources = bundle.resolve(bundle.load(ROOT), "prod", {"instance_profile_arn": INSTANCE_PROFILE})
    bundle.validate_jobs(resources)
    return resources["jobs"]


@pytest.fixture(scope="module")
def aws_config():
    return aws_platform_config()


def job_named(jobs: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    found = [job for job in jobs.values() if job["name"] == name]
    assert len(found) == 1, f"exactly one job must be named {name!r}, found {len(found)}"
    return found[0]


def cluster_of(job: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    return next(
        c["new_cluster"] for c in job["job_clusters"] if c["job_cluster_key"] == task["job_cluster_key"]
    )


def databricks_environment(cluster: dict[str, Any]) -> dict[str, str]:
    """The driver's environment: spark_env_vars with secret references resolved, as at cluster start."""
    environment = {"DATABRICKS_RUNTIME_VERSION": DBR_VERSION}
    for key, value in cluster["spark_env_vars"].items():
        environment[key] = SECRET_VALUE if bundle.secret_reference(str(value)) else str(value)
    return environment


@pytest.fixture
def on_databricks(monkeypatch: pytest.MonkeyPatch):
    """Replace the process environment with one cluster's, for the duration of one parse."""

    def enter(cluster: dict[str, Any]) -> dict[str, str]:
        for key in list(os.environ):
            if key.startswith(("PLATFORM", "PII_", "DATABRICKS_")):
                monkeypatch.delenv(key)
        environment = databricks_environment(cluster)
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        return environment

    return enter


def load_script(name: str) -> ModuleType:
    path = ROOT / "include" / "spark" / name
    spec = importlib.util.spec_from_file_location(f"contract_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RecordingReader:
    """Stands in for ``spark.readStream``: records the format and options ``read_stream`` sets."""

    def __init__(self) -> None:
        self.format_name: str | None = None
        self.options: dict[str, str] = {}

    def format(self, name: str) -> RecordingReader:
        self.format_name = name
        return self

    def option(self, key: str, value: str) -> RecordingReader:
        self.options[key] = value
        return self

    def load(self) -> str:
        return "stream"


class RecordingSpark:
    def __init__(self) -> None:
        self.readStream = RecordingReader()


# ---- the streaming job ---------------------------------------------------------------------------------
@pytest.fixture
def streaming(jobs, aws_config, on_databricks):
    job = job_named(jobs, aws_config.databricks.streaming_job)
    (task,) = job["tasks"]
    environment = on_databricks(cluster_of(job, task))
    script = load_script(Path(task["spark_python_task"]["python_file"]).name)
    args = script.parse_args(task["spark_python_task"]["parameters"])
    return {"job": job, "task": task, "environment": environment, "script": script, "args": args}


def test_the_streaming_job_is_the_one_the_supervisor_starts_by_name(jobs, aws_config) -> None:
    job = job_named(jobs, aws_config.databricks.streaming_job)
    assert job["max_concurrent_runs"] == 1
    assert job["tasks"][0]["spark_python_task"]["python_file"].endswith("include/spark/stream_events.py")


def test_streaming_job_parses_to_the_production_lake_stream_and_region(streaming, aws_config) -> None:
    args = streaming["args"]
    assert args.lake_root == aws_config.lake.root == "s3://edp-lake/lake"
    assert args.stream_name == aws_config.stream.name
    assert args.region == aws_config.stream.region


def test_streaming_job_has_no_local_endpoint_and_reads_databricks_kinesis(streaming) -> None:
    args = streaming["args"]
    assert args.endpoint_url == ""
    assert args.source == "kinesis"
    assert args.metrics_sink == "cloudwatch"


def test_streaming_job_checkpoints_under_the_production_lake(streaming, aws_config) -> None:
    expected = checkpoint_path(STREAM_EVENTS_QUERY, aws_config.lake.root)
    assert streaming["args"].checkpoint_dir == expected
    assert expected.startswith("s3://") and "/_checkpoints/" in expected


def test_streaming_source_options_are_a_valid_databricks_kinesis_configuration(streaming) -> None:
    spark = RecordingSpark()
    streaming["script"].read_stream(spark, streaming["args"])
    reader = spark.readStream
    assert reader.format_name == "kinesis"
    assert reader.options["streamName"] == "edp-events"
    assert reader.options["region"] == "us-east-1"
    assert reader.options["initialPosition"] in ("trim_horizon", "latest")
    assert 1 <= int(reader.options["maxRecordsPerFetch"]) <= 10_000  # GetRecords' documented maximum
    assert "endpoint" not in reader.options and "endpointUrl" not in reader.options


def test_pii_salt_comes_from_the_secret_scope_never_from_the_job_definition(streaming, jobs) -> None:
    cluster = cluster_of(streaming["job"], streaming["task"])
    assert bundle.secret_reference(cluster["spark_env_vars"][SALT_VAR]) == ("edp", "pii_hash_salt")
    assert SECRET_VALUE not in str(jobs)
    assert load_pii_salt(streaming["environment"], get_config()) == SECRET_VALUE


def test_a_missing_secret_stops_the_job_instead_of_hashing_with_a_development_salt(streaming) -> None:
    from edp.stream.pii import MissingSaltError

    environment = {k: v for k, v in streaming["environment"].items() if k != SALT_VAR}
    with pytest.raises(MissingSaltError):
        load_pii_salt(environment, get_config())


def test_streaming_cluster_runs_with_the_platform_instance_profile_and_aws_environment(streaming) -> None:
    cluster = cluster_of(streaming["job"], streaming["task"])
    assert cluster["aws_attributes"]["instance_profile_arn"] == INSTANCE_PROFILE
    assert streaming["environment"]["PLATFORM_ENV"] == "aws"
    assert get_config().env.value == "aws"


# ---- the batch jobs ------------------------------------------------------------------------------------
BATCH_ARGUMENTS = {
    "gold": {"--start": "2026-06-01T10:00:00+00:00", "--end": "2026-06-01T11:00:00+00:00"},
    "compaction": {"--action": "vacuum", "--retention-hours": "168"},
    "replay": {"--start-date": "2026-06-01", "--end-date": "2026-06-02"},
}


@pytest.mark.parametrize("key", sorted(BATCH_JOBS))
def test_batch_job_parses_the_python_params_the_dag_sends(key: str, jobs, aws_config, on_databricks) -> None:
    batch_job = BATCH_JOBS[key]
    job = job_named(jobs, batch_job.databricks_job_name(aws_config))
    (task,) = job["tasks"]
    assert Path(task["spark_python_task"]["python_file"]).name == batch_job.script == SCRIPT_FOR_JOB[key]
    on_databricks(cluster_of(job, task))
    # What DatabricksRunNowOperator sends: the factory's arguments, rendered by Airflow at task time.
    sent = argv(job_arguments(aws_config, BATCH_ARGUMENTS[key], DATABRICKS))
    params = [jinja2.Template(value).render(platform_config=lambda: aws_config) for value in sent]
    args = load_script(batch_job.script).parse_args(params)
    assert args.engine == DATABRICKS
    assert args.lake_root == aws_config.lake.root
    assert os.environ["PLATFORM_ENV"] == "aws"


# ---- the bundle against its sources --------------------------------------------------------------------
def test_every_job_installs_the_project_wheel(jobs) -> None:
    # The job wheel is its own project (include/pyproject.toml): the production packages only.
    project = tomllib.loads((ROOT / "include" / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "name"
    ]
    wheel = project.replace("-", "_")  # the wheel file name normalises the distribution name
    for key, job in jobs.items():
        for task in job["tasks"]:
            assert {"whl": f"../dist/{wheel}-*.whl"} in task["libraries"], (key, task["task_key"])


def test_bundle_variable_defaults_are_the_platform_config_and_the_sizing_plan(aws_config) -> None:
    declared = bundle.load(ROOT)["variables"]
    defaults = {name: spec.get("default") for name, spec in declared.items()}
    assert defaults["lake_root"] == aws_config.lake.root
    assert defaults["stream_name"] == aws_config.stream.name
    assert defaults["region"] == aws_config.stream.region
    assert defaults["checkpoint_location"] == checkpoint_path(STREAM_EVENTS_QUERY, aws_config.lake.root)
    assert defaults["stream_workers"] == plan(TargetRate(DEFAULT_TARGET_EVENTS_PER_S)).databricks_workers
    assert "default" not in declared["instance_profile_arn"]  # a deployment value, from the access stack


def test_bundle_defines_exactly_the_jobs_the_platform_runs(jobs, aws_config) -> None:
    expected = {aws_config.databricks.streaming_job} | {
        j.databricks_job_name(aws_config) for j in BATCH_JOBS.values()
    }
    assert {job["name"] for job in jobs.values()} == expected
