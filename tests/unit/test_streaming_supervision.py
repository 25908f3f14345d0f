"""Streaming supervision: verdicts, restart policy, the supervisor steps, once-per-incident alerting,
the Databricks controller and operator (hook patched), CloudWatch and Delta-log readers (moto)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import boto3
import pytest
from airflow.providers.databricks.hooks.databricks import DatabricksHook, RunState
from airflow.providers.databricks.triggers.databricks import DatabricksExecutionTrigger
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred
from moto import mock_aws

from edp.alerting.alerts import STREAMING_UNRECOVERABLE
from edp.alerting.incidents import Incident, RecoveryAttempt
from edp.alerting.notifier import PlatformAlertNotifier
from edp.config import get_config
from edp.lake.delta_log import newest_commit
from edp.orchestration.state import FileStateStore, VariableStateStore
from edp.resources import STATE_VARIABLES
from edp.stream.metrics import CloudWatchSink, FileSink, HealthTracker
from edp.stream.supervision import supervise
from edp.stream.supervision.controllers import (
    ControllerError,
    DatabricksStreamingController,
    JobStatus,
    StopOutcome,
)
from edp.stream.supervision.health import HealthBounds, Observation, Status, assess
from edp.stream.supervision.metrics import read_cloudwatch_metrics, read_local_metrics
from edp.stream.supervision.operators import StreamingControlOperator
from edp.stream.supervision.policy import Action, RestartPolicy
from edp.stream.supervision.state import DesiredState, SupervisionState, SupervisionStore, open_incident
from edp.stream.supervision.supervise import Command, Settings, StreamingUnrecoverableError, Supervision

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BOUNDS = HealthBounds(
    max_heartbeat_age=timedelta(minutes=2),
    startup_grace=timedelta(seconds=90),
    max_source_lag=timedelta(minutes=10),
    max_silver_lag=timedelta(minutes=15),
)
POLICY = RestartPolicy(max_attempts=3, initial_backoff=timedelta(minutes=2), max_backoff=timedelta(minutes=5))


# ---- metrics fixtures: written by the job's own HealthTracker ----------------------------------
def progress_event(at: datetime, *, rows: int = 120, lag_ms: float = 0.0) -> dict[str, Any]:
    """A StreamingQueryProgress as Spark reports it (the fields HealthTracker reads)."""
    return {
        "id": "query-1",
        "runId": "run-1",
        "name": "stream_events",
        "timestamp": at.isoformat(),
        "batchId": 41,
        "numInputRows": rows,
        "inputRowsPerSecond": 40.0,
        "processedRowsPerSecond": 95.0,
        "batchDuration": 1260,
        "sources": [
            {"description": "kinesis", "endOffset": "{}", "metrics": {"maxMsBehindLatest": str(lag_ms)}}
        ],
    }


def write_snapshot(path: Path, written_at: datetime, event: str = "progress", **kwargs: Any) -> Path:
    tracker = HealthTracker(FileSink(path), "stream_events", clock=lambda: written_at)
    tracker.started("query-1", "run-1")
    if event == "progress":
        tracker.progress(progress_event(kwargs.pop("progress_at", written_at), **kwargs))
    elif event == "failed":
        tracker.terminated("StreamingQueryException: shard iterator expired\nat ...")
    return path


def running_job(started_ago: timedelta = timedelta(minutes=30)) -> JobStatus:
    return JobStatus(True, "pid 4242", NOW - started_ago, "log .platform/logs/streaming-job.log")


def observe(
    tmp_path: Path, job: JobStatus, *, desired=DesiredState.RUNNING, silver=None, **snapshot
) -> Observation:
    metrics = None
    if snapshot:
        metrics = read_local_metrics(write_snapshot(tmp_path / "metrics.json", **snapshot))
    return Observation(now=NOW, job=job, desired=desired, metrics=metrics, silver_committed_at=silver)


# ---- verdicts ----------------------------------------------------------------------------------
def test_fresh_heartbeat_and_small_lag_is_healthy(tmp_path: Path) -> None:
    verdict = assess(observe(tmp_path, running_job(), written_at=NOW - timedelta(seconds=8)), BOUNDS)
    assert verdict.status is Status.HEALTHY
    assert verdict.reasons == ()
    assert verdict.facts["heartbeat_age_s"] == 8.0
    assert verdict.facts["metrics"]["processed_rows_per_second"] == 95.0


def test_heartbeat_older_than_the_bound_is_unhealthy_and_says_how_old(tmp_path: Path) -> None:
    verdict = assess(observe(tmp_path, running_job(), written_at=NOW - timedelta(seconds=400)), BOUNDS)
    assert verdict.status is Status.UNHEALTHY
    assert verdict.needs_restart
    assert verdict.reasons == ("no heartbeat for 400s (bound 120s)",)


def test_a_job_within_its_start_up_grace_is_starting_not_unhealthy(tmp_path: Path) -> None:
    verdict = assess(observe(tmp_path, running_job(started_ago=timedelta(seconds=30))), BOUNDS)
    assert verdict.status is Status.STARTING
    assert not verdict.needs_restart


def test_no_heartbeat_after_the_grace_is_unhealthy(tmp_path: Path) -> None:
    verdict = assess(observe(tmp_path, running_job(started_ago=timedelta(minutes=5))), BOUNDS)
    assert verdict.status is Status.UNHEALTHY
    assert verdict.reasons == ("no heartbeat in 300s since start-up (grace 90s)",)


def test_metrics_left_by_an_earlier_run_do_not_count_for_a_restarted_job(tmp_path: Path) -> None:
    # The old run beat 2 minutes ago; the new process started 1 minute ago and has not beaten yet.
    job = running_job(started_ago=timedelta(seconds=60))
    verdict = assess(observe(tmp_path, job, written_at=NOW - timedelta(seconds=120)), BOUNDS)
    assert verdict.status is Status.STARTING


def test_a_failed_query_is_unhealthy_with_the_first_line_of_its_error(tmp_path: Path) -> None:
    observation = observe(tmp_path, running_job(), written_at=NOW - timedelta(seconds=5), event="failed")
    verdict = assess(observation, BOUNDS)
    assert verdict.status is Status.UNHEALTHY
    assert verdict.reasons == ("query failed: StreamingQueryException: shard iterator expired",)


def test_source_lag_over_the_bound_is_unhealthy(tmp_path: Path) -> None:
    observation = observe(tmp_path, running_job(), written_at=NOW, lag_ms=15 * 60 * 1000)
    verdict = assess(observation, BOUNDS)
    assert verdict.status is Status.UNHEALTHY
    assert verdict.reasons == ("source lag 900s (bound 600s)",)


def test_silver_unchanged_while_input_flows_is_degraded_but_not_restarted(tmp_path: Path) -> None:
    observation = observe(tmp_path, running_job(), written_at=NOW, silver=NOW - timedelta(minutes=40))
    verdict = assess(observation, BOUNDS)
    assert verdict.status is Status.DEGRADED
    assert not verdict.needs_restart
    assert verdict.reasons == ("silver unchanged for 2400s of input (bound 900s)",)


def test_silver_freshness_is_not_judged_when_the_last_batch_had_no_input(tmp_path: Path) -> None:
    observation = observe(tmp_path, running_job(), written_at=NOW, rows=0, silver=NOW - timedelta(hours=5))
    assert assess(observation, BOUNDS).status is Status.HEALTHY


def test_a_dead_job_is_unhealthy_with_the_controller_detail(tmp_path: Path) -> None:
    job = JobStatus(False, "pid 4242", NOW - timedelta(hours=1), "process exited; log x.log")
    verdict = assess(observe(tmp_path, job, written_at=NOW - timedelta(seconds=3)), BOUNDS)
    assert verdict.status is Status.UNHEALTHY
    assert verdict.reasons == ("not running (process exited; log x.log)",)


def test_a_job_stopped_on_request_is_stopped_not_unhealthy(tmp_path: Path) -> None:
    job = JobStatus(False, detail="not started by the local runtime")
    verdict = assess(observe(tmp_path, job, desired=DesiredState.STOPPED), BOUNDS)
    assert verdict.status is Status.STOPPED
    assert not verdict.needs_restart


def test_a_snapshot_of_an_unknown_format_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"format": "something/v9", "written_at": NOW.isoformat()}))
    with pytest.raises(ValueError, match="unknown health snapshot format"):
        read_local_metrics(path)


# ---- restart policy ------------------------------------------------------------------------------
def incident_with(attempt_times: list[datetime]) -> Incident:
    attempts = tuple(RecoveryAttempt(at, "not running", "started pid 1") for at in attempt_times)
    opened = NOW - timedelta(hours=1)
    return Incident(STREAMING_UNRECOVERABLE, "streaming-x", opened, opened, "not running", attempts=attempts)


def test_backoff_doubles_per_attempt_and_is_capped() -> None:
    assert [POLICY.backoff_after(n) for n in (1, 2, 3, 4)] == [
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=5),
        timedelta(minutes=5),
    ]


def test_policy_restarts_then_waits_out_the_backoff_then_gives_up_after_max_attempts() -> None:
    first = POLICY.decide(incident_with([]), NOW)
    assert (first.action, first.attempt) == (Action.RESTART, 1)

    one = incident_with([NOW - timedelta(minutes=1)])
    waiting = POLICY.decide(one, NOW)
    assert (waiting.action, waiting.not_before) == (Action.WAIT, NOW + timedelta(minutes=1))
    assert (POLICY.decide(one, NOW + timedelta(minutes=1)).action) is Action.RESTART

    three = incident_with(
        [NOW - timedelta(minutes=20), NOW - timedelta(minutes=15), NOW - timedelta(minutes=3)]
    )
    assert POLICY.decide(three, NOW).action is Action.WAIT  # the third attempt gets its 5 minutes
    gave_up = POLICY.decide(three, NOW + timedelta(minutes=2))
    assert (gave_up.action, gave_up.attempt) == (Action.GIVE_UP, 3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"multiplier": 0.5},
        {"initial_backoff": timedelta(hours=2), "max_backoff": timedelta(hours=1)},
    ],
)
def test_policy_rejects_settings_that_would_not_bound_or_back_off(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        RestartPolicy(**kwargs)


# ---- the supervisor steps, with a recording controller -------------------------------------------
class RecordingController:
    """Test double of StreamingJobController: a job that starts, dies and stops on command."""

    kind = "test"

    def __init__(self, clock: Iterator[datetime] | None = None, *, start_fails: bool = False) -> None:
        self.running = False
        self.ref: str | None = None
        self.started_at: datetime | None = None
        self.calls: list[tuple[str, str | None]] = []
        self.start_fails = start_fails
        self.next_pid = 100

    def status(self) -> JobStatus:
        detail = "" if self.ref else "not started"
        return JobStatus(self.running, self.ref, self.started_at, detail if not self.running else "log")

    def start(self, *, token: str | None = None) -> JobStatus:
        self.calls.append(("start", token))
        if self.start_fails:
            raise ControllerError("spark-submit exited with 1")
        self.next_pid += 1
        self.running, self.ref, self.started_at = True, f"pid {self.next_pid}", NOW
        return self.status()

    def begin_stop(self) -> StopOutcome:
        self.calls.append(("stop", None))
        stopped = (self.ref,) if self.running and self.ref else ()
        self.running = False
        return StopOutcome(stopped=stopped)

    def wait_stopped(self, pending) -> list[str]:
        return []

    def stop(self) -> StopOutcome:
        return self.begin_stop()

    def restart(self, *, token: str | None = None) -> JobStatus:
        self.begin_stop()
        return self.start(token=token)

    def die(self) -> None:
        self.running = False


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def sup(tmp_path: Path, clock: Clock) -> Supervision:
    metrics_path = tmp_path / "metrics.json"
    return Supervision(
        controller=RecordingController(),
        store=SupervisionStore(FileStateStore(tmp_path / "state")),
        settings=Settings(BOUNDS, POLICY),
        metrics_reader=lambda _now: read_local_metrics(metrics_path) if metrics_path.exists() else None,
        silver_reader=lambda: None,
        clock=clock,
        log=lambda _msg: None,
    )


def beat(sup: Supervision, tmp_path: Path, at: datetime) -> None:
    write_snapshot(tmp_path / "metrics.json", at, rows=0)


def test_ensure_starts_a_job_that_was_never_started_without_opening_an_incident(sup: Supervision) -> None:
    result = supervise.apply_action(sup, "ensure", run_id="scheduled__1", manual=False)
    assert result["result"] == "started"
    assert sup.controller.calls == [("start", "ensure-scheduled__1")]
    assert sup.store.load().incident is None


def test_a_dead_job_is_restarted_as_attempt_one_and_the_incident_closes_when_healthy(
    sup: Supervision, tmp_path: Path, clock: Clock
) -> None:
    supervise.apply_action(sup, "ensure", run_id="r1", manual=False)
    sup.controller.die()
    clock.now = NOW + timedelta(minutes=3)
    result = supervise.apply_action(sup, "ensure", run_id="r2", manual=False)
    assert (result["result"], result["decision"], result["attempt"]) == ("recovery", "restart", 1)
    incident = sup.store.load().incident
    assert incident is not None and [a.outcome for a in incident.attempts] == ["started pid 102"]
    assert incident.detail.startswith("not running")

    sup.controller.started_at = clock.now
    beat(sup, tmp_path, clock.now + timedelta(seconds=40))
    clock.now += timedelta(minutes=1)
    verdict = supervise.check_health(sup)
    assert verdict["status"] == "healthy"
    state = sup.store.load()
    assert state.incident is None
    assert state.history[0]["resolution"] == "recovered"
    assert state.last_healthy_at == clock.now


def test_a_stuck_job_is_restarted_by_recover_with_backoff_between_attempts(
    sup: Supervision, tmp_path: Path, clock: Clock
) -> None:
    supervise.apply_action(sup, "ensure", run_id="r1", manual=False)
    beat(sup, tmp_path, NOW + timedelta(seconds=30))
    clock.now = NOW + timedelta(minutes=10)  # heartbeat now 9.5 minutes old: stuck
    verdict = supervise.check_health(sup)
    assert verdict["status"] == "unhealthy"
    first = supervise.recover(sup, verdict)
    assert (first["decision"], first["attempt"]) == ("restart", 1)
    assert sup.controller.calls[-2:] == [("stop", None), ("start", f"{first['incident']}-attempt-1")]

    clock.now += timedelta(minutes=3)  # the restarted job never beats
    verdict = supervise.check_health(sup)
    assert verdict["status"] == "unhealthy"
    assert supervise.recover(sup, verdict)["attempt"] == 2
    clock.now += timedelta(minutes=3)  # attempt 2 has 4 minutes: wait
    waiting = supervise.recover(sup, supervise.check_health(sup))
    assert waiting["decision"] == "wait"
    assert len(sup.store.load().incident.attempts) == 2


def test_restarts_are_bounded_then_the_supervisor_gives_up_and_escalates_every_run(
    sup: Supervision, clock: Clock
) -> None:
    sup.controller = RecordingController(start_fails=True)
    sup.controller.ref = "pid 99"  # it ran before and died
    decisions = []
    for _ in range(8):
        result = supervise.apply_action(sup, "ensure", run_id="r", manual=False)
        decisions.append(result["decision"])
        clock.now += timedelta(minutes=3)
    assert decisions.count("restart") == 3, decisions
    assert decisions[-1] == "give_up"
    incident = sup.store.load().incident
    assert incident.exhausted_at is not None
    assert all(a.outcome == "failed: spark-submit exited with 1" for a in incident.attempts)
    for _ in range(2):  # fails on every run while exhausted, so the outage stays visible
        with pytest.raises(
            StreamingUnrecoverableError, match=f"after 3 restarts; incident {incident.id}"
        ) as raised:
            supervise.escalate(sup)
    details = raised.value.alert_details
    assert (details["incident"], details["job"], len(details["attempts"])) == (incident.id, "test", 3)
    assert details["attempts"][0].endswith(": failed: spark-submit exited with 1")
    assert issubclass(StreamingUnrecoverableError, AirflowFailException)  # no retries of a lost cause


def test_a_manual_ensure_after_giving_up_starts_a_fresh_budget(sup: Supervision, clock: Clock) -> None:
    exhausted = dataclasses.replace(incident_with([NOW]), exhausted_at=NOW, alerted_at=NOW)
    sup.store.save(SupervisionState(incident=exhausted))
    sup.controller.ref = "pid 99"
    scheduled = supervise.apply_action(sup, "ensure", run_id="scheduled__x", manual=False)
    assert scheduled["decision"] == "give_up"
    manual = supervise.apply_action(sup, "ensure", run_id="manual__y", manual=True)
    assert (manual["decision"], manual["attempt"]) == ("restart", 1)
    state = sup.store.load()
    assert state.incident.id != exhausted.id
    assert state.history[0]["resolution"] == "manual ensure after giving up (manual__y)"


def test_stop_keeps_the_job_down_until_a_manual_ensure(sup: Supervision, tmp_path: Path) -> None:
    supervise.apply_action(sup, "ensure", run_id="r1", manual=False)
    stopped = supervise.apply_action(sup, Command.STOP, run_id="manual__stop", manual=True)
    assert (stopped["result"], stopped["stopped"]) == ("stopped", ["pid 101"])
    assert not sup.controller.running

    scheduled = supervise.apply_action(sup, "ensure", run_id="scheduled__2", manual=False)
    assert scheduled["result"] == "left stopped (stopped on request by manual__stop)"
    verdict = supervise.check_health(sup)
    assert verdict["status"] == "stopped"
    assert supervise.recover(sup, verdict)["decision"] == "none"
    assert not sup.controller.running

    resumed = supervise.apply_action(sup, "ensure", run_id="manual__go", manual=True)
    assert resumed["result"] == "started"
    assert sup.store.load().desired is DesiredState.RUNNING


def test_restart_action_stops_and_starts_whatever_the_health(sup: Supervision) -> None:
    supervise.apply_action(sup, "ensure", run_id="r1", manual=False)
    result = supervise.apply_action(sup, "restart", run_id="manual__r", manual=True)
    assert result["result"] == "restarted"
    assert result["stopped"] == ["pid 101"]
    assert result["job"]["ref"] == "pid 102"


def test_file_state_round_trips_every_field(tmp_path: Path) -> None:
    store = SupervisionStore(FileStateStore(tmp_path))
    state = SupervisionState(
        desired=DesiredState.STOPPED,
        desired_changed_at=NOW,
        desired_changed_by="manual__1",
        incident=dataclasses.replace(incident_with([NOW]), exhausted_at=NOW, alerted_at=NOW),
        last_healthy_at=NOW - timedelta(hours=1),
        history=({"id": "old", "resolution": "recovered"},),
    )
    store.save(state)
    assert store.load() == state
    assert (tmp_path / "streaming" / "supervision.json").is_file()
    assert (tmp_path / "incidents" / "streaming_unrecoverable.json").is_file()


def test_variable_state_store_reads_and_writes_json_through_the_sdk_variable() -> None:
    saved: dict[str, Any] = {}
    state = SupervisionState(incident=incident_with([NOW]))
    with (
        mock.patch(
            "airflow.sdk.Variable.set", side_effect=lambda key, value, **kw: saved.update({key: (value, kw)})
        ),
        mock.patch("airflow.sdk.Variable.get", side_effect=lambda key, **kw: saved[key][0]),
    ):
        store = SupervisionStore(VariableStateStore(STATE_VARIABLES))
        store.save(state)
        assert store.load() == state
    assert saved["streaming_supervision_state"][1]["serialize_json"] is True
    assert saved["platform_incident__streaming_unrecoverable"][0]["id"] == state.incident.id


# ---- once-per-incident alerting (moto SNS -> SQS) ----------------------------------------------
@pytest.fixture
def offline_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith(("AWS_", "PLATFORM_", "AIRFLOW_CONN_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path / "state"))  # the sup fixture's store
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    config = get_config()
    monkeypatch.setenv("MOTO_ACCOUNT_ID", config.aws_account_id)
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"region_name": "us-east-1"},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{config.connections.aws.upper()}", json.dumps(connection))


def alert_inbox(region: str, topic: str) -> str:
    sns, sqs = boto3.client("sns", region_name=region), boto3.client("sqs", region_name=region)
    topic_arn = sns.create_topic(Name=topic)["TopicArn"]
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return queue_url


def drain(region: str, queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=region)
    bodies = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def escalate_context(sup: Supervision, run_id: str) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="streaming_supervisor",
        task_id="escalate",
        run_id=run_id,
        try_number=1,
        map_index=-1,
        log_url=None,
    )
    try:
        supervise.escalate(sup)
    except StreamingUnrecoverableError as exc:
        return {"ti": ti, "task_instance": ti, "run_id": run_id, "exception": exc}
    raise AssertionError("escalate did not raise")


def test_unrecoverable_alert_is_published_once_per_incident_not_once_per_run(
    offline_aws, sup: Supervision, clock: Clock
) -> None:
    config = get_config()
    first = dataclasses.replace(incident_with([NOW]), exhausted_at=NOW)
    sup.store.save(SupervisionState(incident=first))
    notifier = PlatformAlertNotifier(config=config)  # every task's callback; the error names the incident
    with mock_aws():
        queue = alert_inbox(config.stream.region, config.sns.alerts_topic)
        for run in ("scheduled__1", "scheduled__2", "scheduled__3"):
            notifier(escalate_context(sup, run))
        after_first_incident = drain(config.stream.region, queue)

        # The job recovers, later fails for good again: a new incident, a new alert.
        sup.store.save(sup.store.load().close_incident(NOW, "recovered"))
        second = dataclasses.replace(open_incident("not running", NOW + timedelta(hours=1)), exhausted_at=NOW)
        sup.store.save(dataclasses.replace(sup.store.load(), incident=second))
        notifier(escalate_context(sup, "scheduled__9"))
        notifier(escalate_context(sup, "scheduled__10"))
        after_second_incident = drain(config.stream.region, queue)

    assert len(after_first_incident) == 1
    alert = after_first_incident[0]
    assert alert["alert_kind"] == "streaming_unrecoverable"
    assert alert["severity"] == "critical"
    assert alert["dedup_key"] == f"streaming_unrecoverable/{first.id}"
    assert alert["runbook"] == "docs/runbooks/streaming_unrecoverable.md"
    assert alert["error"].startswith(
        "StreamingUnrecoverableError: streaming job still unhealthy after 1 restarts"
    )
    assert [a["dedup_key"] for a in after_second_incident] == [f"streaming_unrecoverable/{second.id}"]
    assert sup.store.load().incident.alerted_at is not None


def test_other_failures_of_the_escalate_task_are_ordinary_task_failure_alerts(
    offline_aws, sup: Supervision
) -> None:
    config = get_config()
    ti = SimpleNamespace(
        dag_id="streaming_supervisor", task_id="escalate", run_id="r", try_number=3, map_index=-1
    )
    context = {"ti": ti, "run_id": "r", "exception": ValueError("supervision state has schema_version 7")}
    with mock_aws():
        queue = alert_inbox(config.stream.region, config.sns.alerts_topic)
        PlatformAlertNotifier(config=config)(context)
        alerts = drain(config.stream.region, queue)
    assert [a["alert_kind"] for a in alerts] == ["task_failure"]


def test_runbook_for_the_alert_kind_exists_and_is_indexed() -> None:
    root = Path(__file__).resolve().parents[2]
    assert (root / "docs/runbooks/streaming_unrecoverable.md").is_file()
    assert "streaming_unrecoverable.md" in (root / "docs/runbooks/README.md").read_text()


# ---- Databricks controller, hook patched -------------------------------------------------------
def run(run_id: int, life_cycle: str, result: str | None = None, start_ms: int = 1_772_366_400_000) -> dict:
    state = {"life_cycle_state": life_cycle, "state_message": ""}
    if result:
        state["result_state"] = result
    return {
        "run_id": run_id,
        "state": state,
        "start_time": start_ms,
        "run_page_url": f"https://dbx/run/{run_id}",
    }


@pytest.fixture
def hook() -> mock.MagicMock:
    hook = mock.create_autospec(DatabricksHook, instance=True)
    hook.find_job_id_by_name.return_value = 77
    hook.run_now.return_value = 901
    hook.get_run_page_url.side_effect = lambda run_id: f"https://dbx/run/{run_id}"
    return hook


def runs_api(active: list[dict], completed: list[dict] | None = None):
    def call(endpoint, payload):
        assert endpoint == ("GET", "2.2/jobs/runs/list")
        assert payload["job_id"] == 77
        if payload.get("active_only") == "true":
            return {"runs": active}
        return {"runs": completed or []}

    return call


def test_databricks_status_reports_the_active_run_and_its_start(hook) -> None:
    hook._do_api_call.side_effect = runs_api([run(555, "RUNNING")])
    status = DatabricksStreamingController(hook, "edp-streaming-ingest").status()
    assert status.running and status.ref == "run 555"
    assert status.started_at == datetime.fromtimestamp(1_772_366_400, tz=UTC)
    assert status.url == "https://dbx/run/555"
    hook.find_job_id_by_name.assert_called_once_with("edp-streaming-ingest")


def test_databricks_status_of_a_stopped_job_names_how_the_last_run_ended(hook) -> None:
    hook._do_api_call.side_effect = runs_api([], [run(554, "TERMINATED", "FAILED")])
    status = DatabricksStreamingController(hook, "edp-streaming-ingest").status()
    assert not status.running
    assert status.detail == "last run ended TERMINATED/FAILED"


def test_databricks_start_runs_now_with_an_idempotency_token_only_when_no_run_is_active(hook) -> None:
    controller = DatabricksStreamingController(hook, "edp-streaming-ingest")
    hook._do_api_call.side_effect = runs_api([])
    started = controller.start(token="streaming-20260301T120000Z-attempt-2")
    hook.run_now.assert_called_once_with(
        {"job_id": 77, "idempotency_token": "streaming-20260301T120000Z-attempt-2"}
    )
    assert (started.running, started.ref, started.url) == (True, "run 901", "https://dbx/run/901")

    hook.run_now.reset_mock()
    hook._do_api_call.side_effect = runs_api([run(901, "PENDING")])
    assert controller.start(token="again").ref == "run 901"
    hook.run_now.assert_not_called()


def test_databricks_stop_cancels_active_runs_and_waits_until_they_are_terminal(hook) -> None:
    hook._do_api_call.side_effect = runs_api([run(555, "RUNNING")])
    states = iter([RunState("TERMINATING", "", ""), RunState("TERMINATED", "CANCELED", "")])
    hook.get_run_state.side_effect = lambda _run_id: next(states)
    sleeps: list[float] = []
    controller = DatabricksStreamingController(
        hook, "edp-streaming-ingest", poll_interval_s=7, sleep=sleeps.append
    )
    outcome = controller.stop()
    hook.cancel_run.assert_called_once_with(555)
    assert outcome == StopOutcome(stopped=("run 555",), pending=())
    assert sleeps == [7]


def test_databricks_restart_refuses_to_start_while_the_cancelled_run_still_terminates(hook) -> None:
    hook._do_api_call.side_effect = runs_api([run(555, "RUNNING")])
    hook.get_run_state.return_value = RunState("TERMINATING", "", "")
    controller = DatabricksStreamingController(
        hook, "edp-streaming-ingest", stop_timeout_s=0, sleep=lambda _s: None
    )
    with pytest.raises(ControllerError, match="run 555 did not terminate"):
        controller.restart(token="t")
    hook.run_now.assert_not_called()


def test_databricks_job_that_is_not_deployed_is_a_clear_error(hook) -> None:
    hook.find_job_id_by_name.return_value = None
    with pytest.raises(ControllerError, match="'edp-streaming-ingest' does not exist; deploy it first"):
        DatabricksStreamingController(hook, "edp-streaming-ingest").status()


def test_control_operator_defers_on_the_databricks_trigger_then_starts_the_new_run(
    hook, tmp_path: Path, clock: Clock
) -> None:
    hook._do_api_call.side_effect = runs_api([run(555, "RUNNING")])
    databricks = Supervision(
        controller=DatabricksStreamingController(hook, "edp-streaming-ingest", sleep=lambda _s: None),
        store=SupervisionStore(FileStateStore(tmp_path)),
        settings=Settings(BOUNDS, POLICY),
        metrics_reader=lambda _now: None,
        silver_reader=lambda: None,
        clock=clock,
        log=lambda _msg: None,
    )
    operator = StreamingControlOperator(task_id="apply_action", step="apply_action")
    context = {
        "params": {"action": "restart"},
        "run_id": "manual__r",
        "dag_run": SimpleNamespace(run_type="manual"),
    }
    with mock.patch("edp.stream.supervision.operators._supervision", return_value=databricks):
        with pytest.raises(TaskDeferred) as deferred:
            operator.execute(context)
        trigger = deferred.value.trigger
        assert isinstance(trigger, DatabricksExecutionTrigger)
        assert trigger.run_id == 555
        assert deferred.value.method_name == "execute_complete"
        hook.cancel_run.assert_called_once_with(555)
        hook.run_now.assert_not_called()

        hook._do_api_call.side_effect = runs_api([])
        hook.get_run_state.return_value = RunState("TERMINATED", "CANCELED", "")
        event = {"run_id": 555, "run_state": RunState("TERMINATED", "CANCELED", "").to_json()}
        done = operator.execute_complete(context, event=event, **deferred.value.kwargs)
    hook.run_now.assert_called_once_with({"job_id": 77, "idempotency_token": "manual-manual__r"})
    assert (done["result"], done["job"]["ref"], done["pending_stop"]) == ("restarted", "run 901", [])


# ---- CloudWatch metrics (moto), as the job's CloudWatchSink publishes them ------------------------
def test_cloudwatch_reading_gives_heartbeat_progress_and_the_larger_of_the_two_lags(offline_aws) -> None:
    with mock_aws():
        client = boto3.client("cloudwatch", region_name="us-east-1")
        sink = CloudWatchSink("stream_events", region="us-east-1", client=client)
        tracker = HealthTracker(sink, "stream_events", clock=lambda: NOW - timedelta(minutes=4))
        tracker.progress(progress_event(NOW - timedelta(minutes=4), rows=300, lag_ms=2000))
        tracker._clock = lambda: NOW - timedelta(minutes=1)
        tracker.idle("query-1", "run-1")
        client.put_metric_data(
            Namespace="AWS/Kinesis",
            MetricData=[
                {
                    "MetricName": "GetRecords.IteratorAgeMilliseconds",
                    "Dimensions": [{"Name": "StreamName", "Value": "edp-events"}],
                    "Timestamp": NOW - timedelta(minutes=1),
                    "Value": 45_000.0,
                    "Unit": "Milliseconds",
                }
            ],
        )
        metrics = read_cloudwatch_metrics(
            client, query_name="stream_events", stream_name="edp-events", now=NOW
        )
    assert metrics.heartbeat_at == NOW - timedelta(minutes=1)
    assert metrics.last_progress_at == NOW - timedelta(minutes=4)
    assert metrics.num_input_rows == 300
    assert metrics.processed_rows_per_second == 95.0
    assert metrics.source_lag_ms == 45_000.0
    assert metrics.state is None


def test_cloudwatch_reports_a_failed_query_when_failure_follows_the_last_heartbeat(offline_aws) -> None:
    with mock_aws():
        client = boto3.client("cloudwatch", region_name="us-east-1")
        sink = CloudWatchSink("stream_events", region="us-east-1", client=client)
        tracker = HealthTracker(sink, "stream_events", clock=lambda: NOW - timedelta(minutes=3))
        tracker.idle("query-1", "run-1")
        tracker._clock = lambda: NOW - timedelta(minutes=2)
        tracker.terminated("boom")
        metrics = read_cloudwatch_metrics(
            client, query_name="stream_events", stream_name="edp-events", now=NOW
        )
    assert metrics.state == "failed"


# ---- silver freshness from the Delta log (delta-rs) -------------------------------------------
def test_newest_commit_is_the_time_of_the_tables_latest_version(tmp_path: Path) -> None:
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    table = tmp_path / "silver" / "events"
    rows = pa.table({"event_id": pa.array(["e"])})
    for version in range(12):  # past a checkpoint (every 10 commits here)
        config = {"delta.checkpointInterval": "10"} if version == 0 else None
        write_deltalake(str(table), rows, mode="append", configuration=config)
    newest = DeltaTable(str(table)).history(limit=1)[0]
    assert newest["version"] == 11
    assert newest_commit(str(table)) == datetime.fromtimestamp(newest["timestamp"] / 1000, tz=UTC)
    assert newest_commit(str(tmp_path / "no-table")) is None


def test_s3_storage_gives_delta_rs_the_connections_credentials_and_endpoint() -> None:
    from edp.lake.storage import AwsCredentials, S3Storage

    resolved: list[str] = []

    def credentials() -> AwsCredentials:
        resolved.append("once")
        return AwsCredentials("AKIA", "secret", "token", "http://127.0.0.1:4566")

    storage = S3Storage("s3://edp-lake/lake", credentials, region="us-east-1")
    assert storage.uri("silver", "events") == "s3://edp-lake/lake/silver/events"
    assert resolved == [], "credentials are fetched on first use, in the task, never at parse time"
    assert storage.storage_options() == {
        "AWS_ACCESS_KEY_ID": "AKIA",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_ALLOW_HTTP": "true",
    }
    storage.storage_options()
    assert resolved == ["once"]


# ---- wiring per environment ----------------------------------------------------------------------
def test_aws_supervision_drives_the_configured_databricks_job_and_keeps_state_in_a_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    monkeypatch.setenv("PLATFORM__DATABRICKS__STREAMING_JOB", "edp-streaming-canary")
    config = get_config()
    sup = supervise.build(config, log=lambda _m: None)
    assert isinstance(sup.controller, DatabricksStreamingController)
    assert sup.controller.job_name == "edp-streaming-canary"
    assert sup.controller.hook.databricks_conn_id == config.connections.databricks
    assert isinstance(sup.store.state, VariableStateStore)
    assert sup.store.location == "Airflow Variable 'streaming_supervision_state'"
    assert sup.settings.bounds.startup_grace >= timedelta(minutes=10), "job clusters take minutes to start"


def test_local_supervision_drives_the_local_runtime_job_and_keeps_state_next_to_its_metrics(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("PLATFORM__LAKE__ROOT", str(tmp_path / "lake"))
    sup = supervise.build(get_config(), log=lambda _m: None)
    assert sup.controller.kind == "local" and sup.controller.name == "streaming-job"
    assert sup.store.location == str(tmp_path / "streaming" / "supervision.json")
    assert sup.controller.status().running is False
    assert sup.metrics_reader(NOW) is None and sup.silver_reader() is None
