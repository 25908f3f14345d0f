"""
### Streaming supervisor

Every 3 minutes, keeps the streaming job (Kinesis -> bronze/silver/quarantine) running and healthy:

| step | what it does |
| --- | --- |
| `apply_action` (setup) | carries out the `action` param (below); on `ensure`, starts the job if it is not running |
| `check_health` | judges the job: running? heartbeat age, source lag (Kinesis iterator age), silver freshness |
| `recover` | restarts a dead or stuck job, at most 3 times per incident with exponential backoff, then gives up |
| `record_lake_updates` | records asset events for `bronze.events` and `silver.events` when the job committed since the last tick (skipped otherwise), so the UI's lineage starts at the stream |
| `escalate` | fails while the supervisor has given up; the failure callback raises **one** `streaming_unrecoverable` alert per incident |
| `summarise` (teardown) | the run's results and the supervision state, whatever happened |

| environment | job | health facts | state between runs |
| --- | --- | --- | --- |
| `local` | `streaming-job` of the local runtime (`spark-submit`) | `.platform/streaming/metrics.json` | `.platform/streaming/supervision.json`, incident in `.platform/incidents/` |
| `aws` | Databricks job `databricks.streaming_job` | CloudWatch `EDP/Streaming` + `AWS/Kinesis` | Variables `streaming_supervision_state`, `platform_incident__streaming_unrecoverable` |

**Trigger with config** (`action`):

* `ensure` (default, and every scheduled run): start the job if it is not running. A manual `ensure`
  also undoes an earlier `stop` and gives a job the supervisor gave up on a fresh restart budget.
* `stop`: stop the job and keep it stopped: scheduled runs leave it down until a manual `ensure` or `restart`.
* `restart`: stop and start the job now, whatever its health; starts a fresh restart budget.

On Databricks, a stop waits for the cancelled run to terminate in the triggerer (deferred), then starts
the new run. Logic lives in `include/edp/stream/supervision/`. Runbook:
`docs/runbooks/streaming_unrecoverable.md`.
"""

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task, teardown

from edp.lake import BRONZE_EVENTS, SILVER_EVENTS
from edp.lake.assets import table_assets
from edp.orchestration.defaults import platform_dag_kwargs, platform_default_args
from edp.orchestration.runtime import runtime_config
from edp.stream.supervision.operators import StreamingControlOperator

STEPS = ("apply_action", "check_health", "recover", "escalate")


@dag(
    schedule="*/3 * * * *",
    doc_md=__doc__,
    # A Databricks stop may wait up to 30 minutes for the cancelled run (deferred, no worker slot).
    dagrun_timeout=timedelta(minutes=45),
    # A supervisor that starts paused supervises nothing: active as soon as it is deployed.
    is_paused_upon_creation=False,
    params={
        "action": Param(
            "ensure",
            type="string",
            enum=["ensure", "stop", "restart"],
            title="Action",
            description="ensure: start if not running; stop: stop and keep stopped; restart: stop, then start.",
        )
    },
    **platform_dag_kwargs(
        tags=["streaming", "supervision"],
        default_args=platform_default_args(
            # Short delays: three tries of a check must fit in the 3-minute interval.
            retry_delay=timedelta(seconds=20),
            max_retry_delay=timedelta(minutes=1),
            execution_timeout=timedelta(minutes=10),
        ),
    ),
)
def streaming_supervisor() -> None:
    apply_action = StreamingControlOperator(task_id="apply_action", step="apply_action")

    @task(execution_timeout=timedelta(minutes=2))
    def check_health() -> dict:
        from edp.stream.supervision.supervise import build, check_health  # noqa: PLC0415 - task-time only

        return check_health(build(runtime_config()))

    recover = StreamingControlOperator(task_id="recover", step="recover", verdict_task_id="check_health")
    stream_tables = table_assets([BRONZE_EVENTS, SILVER_EVENTS])

    @task(outlets=stream_tables)
    def record_lake_updates(verdict: dict) -> dict:
        from airflow.exceptions import AirflowSkipException  # noqa: PLC0415 - task-time only

        from edp.stream.supervision.lake_updates import stream_wrote_since  # noqa: PLC0415

        context = get_current_context()
        since = context.get("data_interval_start") or context["dag_run"].run_after
        extra = stream_wrote_since(verdict, since)
        if extra is None:
            raise AirflowSkipException(f"silver unchanged since {since.isoformat()}: no asset event")
        for asset in stream_tables:
            context["outlet_events"][asset].extra = extra
        return extra

    # Its failure names the incident: the platform callback alerts it once per incident, not per run.
    @task
    def escalate() -> dict:
        from edp.stream.supervision.supervise import build, escalate  # noqa: PLC0415

        return escalate(build(runtime_config()))

    @teardown
    def summarise() -> dict:
        from edp.stream.supervision.supervise import build, summarise  # noqa: PLC0415

        ti = get_current_context()["ti"]
        return summarise(build(runtime_config()), {step: ti.xcom_pull(task_ids=step) for step in STEPS})

    apply_action.as_setup()
    summary = summarise()
    verdict = check_health()
    apply_action >> verdict >> recover >> escalate() >> summary
    record_lake_updates(verdict) >> summary
    summary.as_teardown(setups=apply_action)


streaming_supervisor_dag = streaming_supervisor()
