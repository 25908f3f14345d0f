"""The steps of the ``streaming_supervisor`` DAG, as plain functions over a :class:`Supervision`.

Each DAG task calls one function here; tests call the same functions without Airflow.

1. :func:`apply_action` (setup): carry out the run's ``action`` param. ``stop`` stops the job and
   records the desired state ``stopped``, so scheduled runs leave it down until a manual ``ensure`` or
   ``restart``; ``restart`` restarts it and starts a fresh incident budget; ``ensure`` starts the job if
   it is not running (a start of a job that ran before counts as a restart attempt of an incident).
2. :func:`check_health`: observe the job, its metrics and silver, and return the verdict; a healthy
   verdict closes the open incident.
3. :func:`recover`: restart an unhealthy job under the restart policy, or wait out the backoff, or
   give up (the incident is marked exhausted).
4. :func:`escalate`: raise :class:`StreamingUnrecoverableError` while the incident is exhausted. It
   carries the incident's id, so the platform's failure callback
   (:class:`~edp.alerting.notifier.PlatformAlertNotifier`) publishes the ``streaming_unrecoverable``
   alert once per incident, however many runs fail; the mark is written only after SNS accepted it.
5. :func:`summarise` (teardown): one dictionary describing the run.

On Databricks a stop only starts the cancellation of the run; the steps then return the refs still
stopping in ``pending_stop`` and whether a start must follow, and :func:`complete_pending_start`
finishes once they are gone (the DAG's operator defers on the provider's trigger in between).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from edp.alerting.alerts import STREAMING_UNRECOVERABLE, Severity
from edp.alerting.failures import AlertingFailure
from edp.alerting.incidents import RecoveryAttempt
from edp.config import PlatformConfig
from edp.stream.supervision.controllers import ControllerError, JobStatus, StreamingJobController
from edp.stream.supervision.health import Observation, Status, Verdict, assess
from edp.stream.supervision.metrics import StreamingMetrics
from edp.stream.supervision.platform import Settings
from edp.stream.supervision.policy import Action
from edp.stream.supervision.state import (
    DesiredState,
    SupervisionState,
    SupervisionStore,
    open_incident,
    supervision_store,
)


class Command(enum.StrEnum):
    """The DAG's ``action`` param."""

    ENSURE = "ensure"
    STOP = "stop"
    RESTART = "restart"


class StreamingUnrecoverableError(AlertingFailure):
    """The supervisor gave up restarting the streaming job; the message names the incident.

    An ``AlertingFailure``: retrying the task cannot help, so it fails at once, and the alert is the
    incident's (kind ``streaming_unrecoverable``, critical, once per incident).
    """

    alert_kind = STREAMING_UNRECOVERABLE
    alert_severity = Severity.CRITICAL


def _utc_now() -> datetime:
    return datetime.now(tz=UTC)


@dataclasses.dataclass
class Supervision:
    """What every step needs: the job's controller, the state store, how to read metrics and silver.

    :param metrics_reader: the job's latest health facts at a given time (``None`` if none yet).
    :param silver_reader: the newest silver commit time (``None`` if silver has none).
    """

    controller: StreamingJobController
    store: SupervisionStore
    settings: Settings
    metrics_reader: Callable[[datetime], StreamingMetrics | None]
    silver_reader: Callable[[], datetime | None]
    clock: Callable[[], datetime] = _utc_now
    log: Callable[[str], None] = print


def build(config: PlatformConfig, log: Callable[[str], None] = print) -> Supervision:
    """The supervision of ``config``'s environment: its streaming platform, metrics, lake and state."""
    from edp.lake import SILVER_EVENTS  # noqa: PLC0415 - task-time only
    from edp.lake.delta_log import newest_commit  # noqa: PLC0415
    from edp.resources import resources  # noqa: PLC0415

    platform = resources(config)
    silver = SILVER_EVENTS.path(config.lake.root)
    lake = platform.lake
    return Supervision(
        controller=platform.streaming.controller(log),
        store=supervision_store(config),
        settings=platform.streaming.settings,
        metrics_reader=platform.metrics.streaming_reader(),
        silver_reader=lambda: newest_commit(silver, lake),
        log=log,
    )


# ---- helpers -----------------------------------------------------------------------------------
def _job(status: JobStatus) -> dict[str, Any]:
    return status.to_dict()


def _stop_then(
    sup: Supervision, *, start: bool, token: str | None
) -> tuple[dict[str, Any], JobStatus | None]:
    """Stop the job (asynchronously on Databricks); start it again at once if nothing is pending."""
    outcome = sup.controller.begin_stop()
    result: dict[str, Any] = {"stopped": list(outcome.stopped), "pending_stop": list(outcome.pending)}
    if outcome.pending:
        result.update(start_after_stop=start, token=token)
        return result, None
    return result, (sup.controller.start(token=token) if start else None)


def _attempt(sup: Supervision, state: SupervisionState, reason: str, *, running: bool) -> dict[str, Any]:
    """One policy-governed recovery step for an incident (opened now if none is open)."""
    now = sup.clock()
    incident = state.incident or open_incident(reason, now)
    decision = sup.settings.policy.decide(incident, now)
    result: dict[str, Any] = {
        "incident": incident.id,
        "decision": decision.action.value,
        "attempt": decision.attempt,
        "explanation": decision.explanation,
        "not_before": None if decision.not_before is None else decision.not_before.isoformat(),
    }
    if decision.action is Action.GIVE_UP:
        incident = dataclasses.replace(incident, exhausted_at=incident.exhausted_at or now)
    elif decision.action is Action.RESTART:
        token = f"{incident.id}-attempt-{decision.attempt}"
        try:
            if running:
                stop_result, status = _stop_then(sup, start=True, token=token)
                result.update(stop_result)
            else:
                status = sup.controller.start(token=token)
            outcome = f"started {status.ref}" if status else f"stopping {', '.join(result['pending_stop'])}"
        except ControllerError as exc:
            outcome = f"failed: {exc}"
        result["outcome"] = outcome
        sup.log(f"{incident.id}: {decision.explanation} ({reason}): {outcome}")
        incident = incident.with_attempt(RecoveryAttempt(now, reason, outcome))
    sup.store.save(dataclasses.replace(state, incident=incident))
    return result


# ---- steps ---------------------------------------------------------------------------------------
def _stop(sup: Supervision, state: SupervisionState, run_id: str) -> dict[str, Any]:
    now = sup.clock()
    state = dataclasses.replace(
        state, desired=DesiredState.STOPPED, desired_changed_at=now, desired_changed_by=run_id
    ).close_incident(now, f"stopped on request ({run_id})")
    sup.store.save(state)  # first: a failing stop must not leave scheduled runs restarting the job
    result, _ = _stop_then(sup, start=False, token=None)
    return {
        "action": Command.STOP.value,
        "result": "stopping" if result["pending_stop"] else "stopped",
        **result,
    }


def _restart(sup: Supervision, state: SupervisionState, run_id: str) -> dict[str, Any]:
    now = sup.clock()
    state = dataclasses.replace(
        state, desired=DesiredState.RUNNING, desired_changed_at=now, desired_changed_by=run_id
    ).close_incident(now, f"manual restart ({run_id})")
    sup.store.save(state)
    token = f"manual-{run_id}"
    if sup.controller.status().running:
        result, status = _stop_then(sup, start=True, token=token)
    else:
        result, status = {"stopped": [], "pending_stop": []}, sup.controller.start(token=token)
    return {
        "action": Command.RESTART.value,
        "result": "restarting" if status is None else "restarted",
        "job": None if status is None else _job(status),
        **result,
    }


def _ensure(sup: Supervision, state: SupervisionState, run_id: str, manual: bool) -> dict[str, Any]:
    now = sup.clock()
    resumed = manual and state.desired is DesiredState.STOPPED
    if resumed:
        state = dataclasses.replace(
            state, desired=DesiredState.RUNNING, desired_changed_at=now, desired_changed_by=run_id
        )
    if manual and state.incident is not None and state.incident.exhausted_at is not None:
        # Someone looked at the alert and asked for the job: give it a fresh restart budget.
        state = state.close_incident(now, f"manual ensure after giving up ({run_id})")
    sup.store.save(state)
    base = {"action": Command.ENSURE.value}
    if state.desired is DesiredState.STOPPED:
        by = f" by {state.desired_changed_by}" if state.desired_changed_by else ""
        return {**base, "result": f"left stopped (stopped on request{by})"}
    status = sup.controller.status()
    if status.running:
        return {**base, "result": "running", "job": _job(status)}
    if state.incident is None and (status.ref is None or resumed):
        # Never started, stopped outside the supervisor, or resumed after a stop: not a recovery.
        try:
            started = sup.controller.start(token=f"ensure-{run_id}")
            return {**base, "result": "started", "job": _job(started)}
        except ControllerError as exc:
            sup.log(f"start failed: {exc}")
            return {
                **base,
                "result": "recovery",
                **_attempt(sup, state, f"start failed: {exc}", running=False),
            }
    reason = f"not running ({status.detail})" if status.detail else "not running"
    return {**base, "result": "recovery", **_attempt(sup, state, reason, running=False)}


def apply_action(sup: Supervision, command: Command | str, *, run_id: str, manual: bool) -> dict[str, Any]:
    """Step 1: carry out ``command`` (see the module docstring); returns what was done."""
    command = Command(command)
    state = sup.store.load()
    if command is Command.STOP:
        return _stop(sup, state, run_id)
    if command is Command.RESTART:
        return _restart(sup, state, run_id)
    return _ensure(sup, state, run_id, manual)


def complete_pending_start(sup: Supervision, result: Mapping[str, Any]) -> dict[str, Any]:
    """After a deferred stop: wait for what is left, then start if the step asked to; update the attempt."""
    done = dict(result)
    left = sup.controller.wait_stopped(list(result.get("pending_stop") or []))
    if left:
        raise ControllerError(f"{', '.join(left)} still stopping; not starting another run")
    done["pending_stop"] = []
    if not result.get("start_after_stop"):
        done["result"] = "stopped" if done.get("action") == Command.STOP.value else done.get("result")
        return done
    try:
        status = sup.controller.start(token=result.get("token"))
        outcome = f"started {status.ref}"
        done["job"] = _job(status)
    except ControllerError as exc:
        outcome = f"failed: {exc}"
    done["outcome"] = outcome
    if done.get("action") == Command.RESTART.value:
        done["result"] = "restarted" if outcome.startswith("started") else outcome
    state = sup.store.load()
    if result.get("incident") and state.incident is not None and state.incident.id == result["incident"]:
        sup.store.save(dataclasses.replace(state, incident=state.incident.with_last_outcome(outcome)))
    return done


def observe(sup: Supervision, desired: DesiredState) -> Observation:
    now = sup.clock()
    return Observation(
        now=now,
        job=sup.controller.status(),
        desired=desired,
        metrics=sup.metrics_reader(now),
        silver_committed_at=sup.silver_reader(),
    )


def check_health(sup: Supervision) -> dict[str, Any]:
    """Step 2: the verdict (``Verdict.to_dict``); a healthy or degraded job closes the open incident."""
    state = sup.store.load()
    verdict = assess(observe(sup, state.desired), sup.settings.bounds)
    if verdict.status in (Status.HEALTHY, Status.DEGRADED):
        now = sup.clock()
        state = dataclasses.replace(state.close_incident(now, "recovered"), last_healthy_at=now)
        sup.store.save(state)
    sup.log(f"verdict: {verdict.summary}")
    return verdict.to_dict()


def recover(sup: Supervision, verdict: Mapping[str, Any]) -> dict[str, Any]:
    """Step 3: restart an unhealthy job, wait out the backoff, or give up (see the policy)."""
    judged = Verdict.from_dict(dict(verdict))
    state = sup.store.load()
    if not judged.needs_restart or state.desired is DesiredState.STOPPED:
        return {"decision": "none", "explanation": f"job is {judged.status.value}"}
    reason = "; ".join(judged.reasons)
    return _attempt(sup, state, reason, running=sup.controller.status().running)


def escalate(sup: Supervision) -> dict[str, Any]:
    """Step 4: raise while the incident is exhausted (its callback alerts once); else report it."""
    incident = sup.store.load().incident
    if incident is not None and incident.exhausted_at is not None:
        attempts = len(incident.attempts)
        last = incident.last_attempt
        raise StreamingUnrecoverableError(
            f"streaming job still unhealthy after {attempts} restarts; incident {incident.id} open since "
            f"{incident.opened_at.isoformat()}: {incident.detail}"
            + (f"; last attempt: {last.outcome}" if last else ""),
            details={
                "incident": incident.id,
                "job": sup.controller.kind,
                "opened_at": incident.opened_at.isoformat(),
                "gave_up_at": incident.exhausted_at.isoformat(),
                "reason": incident.detail,
                "attempts": [f"{a.at.isoformat()}: {a.outcome}" for a in incident.attempts],
            },
            incident_id=incident.id,
        )
    return {
        "incident": None if incident is None else incident.id,
        "attempts": 0 if incident is None else len(incident.attempts),
    }


def summarise(sup: Supervision, results: Mapping[str, Any]) -> dict[str, Any]:
    """Step 5: one dictionary for the run: each step's result plus the state after the run."""
    state = sup.store.load()
    incident = state.incident
    return {
        "state_location": sup.store.location,
        "desired": state.desired.value,
        "last_healthy_at": None if state.last_healthy_at is None else state.last_healthy_at.isoformat(),
        "incident": None if incident is None else incident.to_dict(),
        "steps": {name: results.get(name) for name in sorted(results)},
    }
