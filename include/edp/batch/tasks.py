"""Batch jobs as Airflow tasks: one factory, and the environment's batch engine builds the tasks.

The same entry point in ``include/spark/`` runs everywhere; only the launcher differs. Which one is the
environment's ``batch`` resource (:mod:`edp.resources`):

| engine (``PLATFORM_ENV`` / ``batch_engine``) | tasks | job |
| --- | --- | --- |
| :class:`LocalSparkSubmit` (``local``) | :class:`~edp.batch.spark_submit.SparkSubmitLocalOperator` | ``spark-submit`` on this machine |
| :class:`GlueJobs` (``aws`` / ``glue``) | :class:`GlueArtifactsUploadOperator` >> ``GlueJobOperator`` (deferrable) | Glue 5 job ``glue.<job>`` |
| :class:`DatabricksJobs` (``aws`` / ``databricks``) | ``DatabricksRunNowOperator`` (deferrable) | Databricks job ``databricks.<job>`` |

Every engine runs the jobs from one artifact, the ``edp`` wheel of :mod:`edp.spark_runtime.wheel`.
On Glue the DAG owns the job definition: the upload task puts the script and the wheel under
``s3://<artifacts bucket>/<glue.scripts_prefix>/``, and ``GlueJobOperator`` creates or updates the job
(Glue 5.0, ``--datalake-formats delta``, the Delta session extensions, the wheel in
``--additional-python-modules``) before starting it. On Databricks the job is defined by the deployment
(its task runs the script with the wheel as a library, and sets the PII salt from a secret scope); the
operator passes the arguments as ``python_params``. See docs/batch.md.

Job arguments are ``--key value`` pairs (Glue arguments must be), templated by Airflow. Every job also
gets ``--engine`` (where it runs, so the script never sniffs), ``--platform-env`` (a Glue or Databricks
driver has no ``PLATFORM_ENV`` of its own) and ``--lake-root``. The lake root is a template of the
task-time configuration (:data:`LAKE_ROOT_TEMPLATE`, the ``platform_config`` macro every platform DAG
has): the ``platform_overrides`` Variable moves the Spark jobs exactly as it moves the tasks around
them, one source per run. Provider imports happen only when the factory builds an AWS task, so local
DAG parsing never loads them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from airflow.sdk import BaseOperator

from edp.batch.spark_submit import SparkSubmitLocalOperator
from edp.config import PlatformConfig, get_config
from edp.config.settings import RESOURCE_PREFIX
from edp.orchestration.runtime import LAKE_ROOT_TEMPLATE
from edp.spark_runtime.engines import DATABRICKS, GLUE, LOCAL
from edp.spark_runtime.wheel import build_job_wheel, wheel_filename

if TYPE_CHECKING:
    from airflow.sdk import Context

ENGINES = (LOCAL, GLUE, DATABRICKS)
SPARK_DIR = Path("include") / "spark"
GLUE_VERSION = "5.0"
GLUE_WORKER_TYPE = "G.1X"
GLUE_WORKERS = 2
GLUE_CONCURRENT_RUNS = 3  # scheduled, backfill and maintenance runs of one job may overlap
GLUE_DELTA_CONF = (
    "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension"
    " --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog"
)
DEFERRABLE_POLL_S = 30
WHEELS_DIR = "wheels"


@dataclasses.dataclass(frozen=True)
class BatchJob:
    """One batch entry point and the names it has on each engine.

    :param key: short name, used in task ids and artifact keys.
    :param script: file name under ``include/spark/``.
    :param config_field: field of ``glue`` and ``databricks`` config sections holding the job name.
    :param default_job_suffix: job name suffix while the config section lacks ``config_field``.
    """

    key: str
    script: str
    config_field: str
    default_job_suffix: str

    def script_path(self, config: PlatformConfig) -> Path:
        return config.project_root / SPARK_DIR / self.script

    def _job_name(self, section: object) -> str:
        return getattr(section, self.config_field, None) or f"{RESOURCE_PREFIX}-{self.default_job_suffix}"

    def glue_job_name(self, config: PlatformConfig) -> str:
        return self._job_name(config.glue)

    def databricks_job_name(self, config: PlatformConfig) -> str:
        return self._job_name(config.databricks)

    def script_key(self, config: PlatformConfig) -> str:
        return f"{config.glue.scripts_prefix.strip('/')}/{self.script}"


def glue_wheel_key(config: PlatformConfig) -> str:
    """S3 key of the job wheel every Glue job installs; pip needs the wheel's own file name."""
    return f"{config.glue.scripts_prefix.strip('/')}/{WHEELS_DIR}/{wheel_filename()}"


COMPACTION_JOB = BatchJob("compaction", "compact_tables.py", "compaction_job", "compaction")
GOLD_JOB = BatchJob("gold", "build_gold.py", "gold_job", "gold-build")
REPLAY_JOB = BatchJob("replay", "replay_silver.py", "replay_job", "silver-replay")
BATCH_JOBS = {job.key: job for job in (COMPACTION_JOB, GOLD_JOB, REPLAY_JOB)}


class BatchTasks(NamedTuple):
    """The tasks one job became: wire upstream tasks to ``first`` and downstream ones to ``last``."""

    first: BaseOperator
    last: BaseOperator


def batch_engine(config: PlatformConfig) -> str:
    """The name of the environment's batch engine: ``local``, else the configured ``glue``/``databricks``."""
    from edp.resources import resources  # noqa: PLC0415 - the mapping imports its factories lazily

    return resources(config).batch.name


def job_arguments(
    config: PlatformConfig, arguments: Mapping[str, str], engine: str = LOCAL
) -> dict[str, str]:
    """The job's own ``--key value`` arguments after the ones every job gets (engine, environment, lake)."""
    for key in arguments:
        if not key.startswith("--"):
            raise ValueError(f"job argument {key!r} must start with '--'")
    return {
        "--engine": engine,
        "--platform-env": config.env.value,
        "--lake-root": LAKE_ROOT_TEMPLATE,
        **arguments,
    }


def argv(arguments: Mapping[str, str]) -> list[str]:
    return [part for pair in arguments.items() for part in pair]


def glue_script_location(job: BatchJob, config: PlatformConfig) -> str:
    return f"s3://{config.artifacts_bucket}/{job.script_key(config)}"


def glue_create_job_kwargs(job: BatchJob, config: PlatformConfig) -> dict[str, Any]:
    """Glue job definition beyond name, role and script: Glue 5, Delta, the job wheel.

    Glue pip-installs the wheel from ``--additional-python-modules`` with its ``Requires-Dist``
    (orjson, fastjsonschema: include/pyproject.toml), so no module list is kept here.
    """
    default_arguments = {
        "--job-language": "python",
        "--datalake-formats": "delta",
        "--conf": GLUE_DELTA_CONF,
        "--additional-python-modules": f"s3://{config.artifacts_bucket}/{glue_wheel_key(config)}",
        "--enable-metrics": "true",
        "--enable-continuous-cloudwatch-log": "true",
    }
    return {
        "GlueVersion": GLUE_VERSION,
        "WorkerType": GLUE_WORKER_TYPE,
        "NumberOfWorkers": GLUE_WORKERS,
        "DefaultArguments": default_arguments,
    }


class GlueArtifactsUploadOperator(BaseOperator):
    """Upload a batch job's entry-point script and the job wheel to S3, replacing older copies.

    :param job: the batch job whose artifacts to upload.
    :param bucket: the artifacts bucket.
    :param aws_conn_id: Airflow connection of the S3 client.
    """

    ui_color = "#fff4e0"

    def __init__(self, *, job: BatchJob, bucket: str, aws_conn_id: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Context) -> dict[str, str]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: PLC0415 - task-time only

        config = get_config()
        hook = S3Hook(aws_conn_id=self.aws_conn_id)
        uploads = {
            "script": (self.job.script_path(config), self.job.script_key(config)),
            "wheel": (build_job_wheel(), glue_wheel_key(config)),
        }
        locations = {}
        for name, (path, key) in uploads.items():
            hook.load_file(str(path), key=key, bucket_name=self.bucket, replace=True)
            locations[name] = f"s3://{self.bucket}/{key}"
            self.log.info("uploaded %s to %s", path, locations[name])
        return locations


def _glue_tasks(
    job: BatchJob, task_id: str, arguments: Mapping[str, str], config: PlatformConfig, **kwargs: Any
) -> BatchTasks:
    from airflow.providers.amazon.aws.operators.glue import GlueJobOperator  # noqa: PLC0415 - aws only

    task_kwargs = {k: v for k, v in kwargs.items() if k not in ("inlets", "outlets")}
    upload = GlueArtifactsUploadOperator(
        task_id=f"upload_{job.key}_artifacts",
        job=job,
        bucket=config.artifacts_bucket,
        aws_conn_id=config.connections.aws,
        **task_kwargs,
    )
    run = GlueJobOperator(
        task_id=task_id,
        job_name=job.glue_job_name(config),
        job_desc=f"{job.script}: {job.key} batch job of the event data platform (managed by Airflow)",
        script_location=glue_script_location(job, config),
        script_args=dict(arguments),
        s3_bucket=config.artifacts_bucket,
        iam_role_name=config.glue.iam_role_name,
        create_job_kwargs=glue_create_job_kwargs(job, config),
        concurrent_run_limit=GLUE_CONCURRENT_RUNS,
        update_config=True,
        aws_conn_id=config.connections.aws,
        region_name=config.stream.region,
        deferrable=True,
        waiter_delay=DEFERRABLE_POLL_S,
        stop_job_run_on_kill=True,
        verbose=False,
        **kwargs,
    )
    upload >> run
    return BatchTasks(upload, run)


def _databricks_task(
    job: BatchJob, task_id: str, arguments: Mapping[str, str], config: PlatformConfig, **kwargs: Any
) -> BatchTasks:
    from airflow.providers.databricks.operators.databricks import (  # noqa: PLC0415 - aws only
        DatabricksRunNowOperator,
    )

    run = DatabricksRunNowOperator(
        task_id=task_id,
        job_name=job.databricks_job_name(config),
        python_params=argv(arguments),
        databricks_conn_id=config.connections.databricks,
        deferrable=True,
        polling_period_seconds=DEFERRABLE_POLL_S,
        # DAG params are not job parameters; python_params carries everything the script reads.
        forward_dag_params=False,
        **kwargs,
    )
    return BatchTasks(run, run)


class BatchEngine(Protocol):
    """Builds the tasks that run one batch job; ``name`` is what the script gets as ``--engine``."""

    name: str

    def tasks(
        self, job: BatchJob, task_id: str, arguments: Mapping[str, str], **kwargs: Any
    ) -> BatchTasks: ...


class LocalSparkSubmit:
    """``spark-submit`` on this machine (:class:`~edp.batch.spark_submit.SparkSubmitLocalOperator`)."""

    name = LOCAL

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def tasks(self, job: BatchJob, task_id: str, arguments: Mapping[str, str], **kwargs: Any) -> BatchTasks:
        run = SparkSubmitLocalOperator(
            task_id=task_id,
            script=str(SPARK_DIR / job.script),
            application_args=argv(arguments),
            **kwargs,
        )
        return BatchTasks(run, run)


class GlueJobs:
    """Glue 5 jobs the DAG defines: upload the script and the job wheel, then run the job (deferrable)."""

    name = GLUE

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def tasks(self, job: BatchJob, task_id: str, arguments: Mapping[str, str], **kwargs: Any) -> BatchTasks:
        return _glue_tasks(job, task_id, arguments, self.config, **kwargs)


class DatabricksJobs:
    """Databricks jobs defined in the workspace, run now with the arguments as ``python_params``."""

    name = DATABRICKS

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def tasks(self, job: BatchJob, task_id: str, arguments: Mapping[str, str], **kwargs: Any) -> BatchTasks:
        return _databricks_task(job, task_id, arguments, self.config, **kwargs)


def aws_batch_engine(config: PlatformConfig) -> BatchEngine:
    """The AWS engine ``batch_engine`` names (``glue`` or ``databricks``); anything else is refused."""
    engines: dict[str, type[GlueJobs | DatabricksJobs]] = {GLUE: GlueJobs, DATABRICKS: DatabricksJobs}
    name = config.batch_engine.strip().lower()
    if name not in engines:
        raise ValueError(f"batch_engine must be 'glue' or 'databricks' on AWS, got {config.batch_engine!r}")
    return engines[name](config)


def batch_job_tasks(
    job: BatchJob,
    *,
    task_id: str,
    arguments: Mapping[str, str],
    config: PlatformConfig | None = None,
    inlets: Sequence[Any] = (),
    outlets: Sequence[Any] = (),
    **kwargs: Any,
) -> BatchTasks:
    """Tasks running ``job`` with ``arguments`` on the configured engine; call inside a DAG context.

    :param task_id: id of the task that runs the job (an upload task may precede it on Glue).
    :param arguments: the script's ``--key value`` arguments (values may be templates).
    :param config: platform configuration; default ``get_config()`` of the parsing process.
    :param inlets: Assets the job reads (lineage).
    :param outlets: Assets the job updates: Airflow records an asset event when the task succeeds.
    """
    from edp.resources import resources  # noqa: PLC0415 - the mapping imports its factories lazily

    config = config or get_config()
    engine = resources(config).batch
    arguments = job_arguments(config, arguments, engine.name)
    return engine.tasks(job, task_id, arguments, inlets=list(inlets), outlets=list(outlets), **kwargs)
