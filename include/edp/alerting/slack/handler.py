"""AWS Lambda entry point: SNS alert topic -> Slack.

``lambda_handler(event, context)`` accepts two events:

* an SNS event (``Records[].Sns``): each record is read (:mod:`edp.alerting.slack.notifications`), gated
  (:mod:`edp.alerting.slack.gate`: dedup, per-kind rate limit), formatted (:mod:`edp.alerting.slack.messages`)
  and posted (:mod:`edp.alerting.slack.webhook`, with retries);
* anything without ``Records`` (an EventBridge schedule on AWS, the local bridge's tick): posts the
  summaries of alert storms whose window has ended.

When Slack does not take a message after the retries, the alert is written to the dead-letter file
if one is configured (local runtime) and the invocation succeeds; without one (AWS) the invocation
fails after every record was tried, so Lambda retries it and then hands it to the function's
on-failure destination. Records already posted are remembered by the gate and not posted twice.

Returns ``{"results": [...], "summaries_posted": n}``: one entry per record with its ``outcome``
(``posted``, ``storm_posted``, ``folded``, ``duplicate``, ``dead_lettered``, ``failed``, ``malformed``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from edp.alerting.slack.dead_letter import DeadLetterFile
from edp.alerting.slack.gate import AlertGate, Decision, FileStateStore, GateSession, MemoryStateStore
from edp.alerting.slack.messages import Message, folded_summary_message, message_for, storm_message
from edp.alerting.slack.notifications import Incoming, MalformedRecord, SnsNotification, read
from edp.alerting.slack.settings import SlackSettings, load_settings
from edp.alerting.slack.webhook import SlackDeliveryError, SlackWebhook, WebhookUrl

logger = Logger(service="sns-to-slack")
metrics = Metrics(namespace="EventDataPlatform", service="sns-to-slack")

TimeLeft = Callable[[], float] | None
OUTCOME_METRICS = {
    "posted": "AlertsPosted",
    "storm_posted": "AlertsPosted",
    "folded": "AlertsFolded",
    "duplicate": "AlertsDeduplicated",
    "dead_lettered": "AlertsDeadLettered",
    "failed": "AlertDeliveryFailures",
    "malformed": "MalformedRecords",
}


class AlertsUndelivered(RuntimeError):
    """Some alerts could not be posted and there is no dead-letter file: fail so Lambda retries."""

    def __init__(self, message: str, count: int) -> None:
        super().__init__(message)
        self.count = count


class SlackAlerter:
    """The function's work, with its collaborators injectable for tests."""

    def __init__(
        self,
        settings: SlackSettings,
        *,
        webhook: SlackWebhook | None = None,
        gate: AlertGate | None = None,
        dead_letter: DeadLetterFile | None = None,
        log: Any = logger,
    ) -> None:
        self.settings = settings
        self.log = log
        self.webhook = webhook or SlackWebhook(
            WebhookUrl(settings.webhook_url, settings.webhook_secret_id, settings.region),
            settings.retry,
            log=log,
        )
        store = FileStateStore(settings.state_path) if settings.state_path else MemoryStateStore()
        self.gate = gate or AlertGate(store, settings.gate)
        if dead_letter is None and settings.dead_letter_path is not None:
            dead_letter = DeadLetterFile(settings.dead_letter_path)
        self.dead_letter = dead_letter

    # ---- entry ----------------------------------------------------------------------------------
    def handle(self, event: Mapping[str, Any], time_left: TimeLeft = None) -> dict[str, Any]:
        records = event.get("Records") if isinstance(event, Mapping) else None
        with self.gate.session() as session:
            results = [self.handle_record(r, session, time_left) for r in records or []]
            summaries = self.flush(session, time_left)
        failed = [r for r in results if r["outcome"] == "failed"]
        if failed:
            raise AlertsUndelivered(
                f"{len(failed)} of {len(results)} alert(s) not delivered to Slack: "
                + "; ".join(f"{r['dedup_key']} ({r['error']})" for r in failed),
                count=len(failed),
            )
        return {"results": results, "summaries_posted": summaries}

    # ---- one record -----------------------------------------------------------------------------
    def handle_record(
        self, record: Mapping[str, Any], session: GateSession, time_left: TimeLeft
    ) -> dict[str, Any]:
        try:
            notification = SnsNotification.from_record(record)
        except MalformedRecord as exc:
            return self._malformed(record, str(exc))
        incoming = read(notification)
        result = {
            "message_id": notification.message_id,
            "alert_kind": incoming.alert_kind,
            "dedup_key": incoming.dedup_key,
            "source": incoming.source,
        }
        decision = session.decide(incoming)
        result["decision"] = decision.value
        if decision is Decision.DUPLICATE:
            self.log.info("duplicate alert dropped", extra=result)
            return {**result, "outcome": "duplicate"}
        if decision is Decision.FOLD:
            session.record(incoming, decision)
            self.log.info("alert folded into the storm summary", extra={**result, "alert": incoming.body})
            return {**result, "outcome": "folded"}
        message = self._message(incoming, decision, session)
        try:
            delivery = self.webhook.post(message, time_left)
        except SlackDeliveryError as exc:
            return {**result, **self._undelivered(incoming, message, exc)}
        session.record(incoming, decision)
        outcome = "posted" if decision is Decision.POST else "storm_posted"
        self.log.info("alert posted to Slack", extra={**result, "attempts": delivery.attempts})
        return {**result, "outcome": outcome, "attempts": delivery.attempts}

    def _message(self, incoming: Incoming, decision: Decision, session: GateSession) -> Message:
        if decision is Decision.STORM:
            return storm_message(
                incoming,
                limit=self.settings.gate.rate_limit,
                window_s=self.settings.gate.rate_window_s,
                until=session.window_end(incoming.alert_kind),
            )
        return message_for(incoming, self.settings.runbook_base_url)

    def _undelivered(self, incoming: Incoming, message: Message, exc: SlackDeliveryError) -> dict[str, Any]:
        facts = {"attempts": exc.attempts, "error": str(exc)}
        if self.dead_letter is None:
            self.log.error("alert not delivered; failing the invocation for Lambda to retry", extra=facts)
            return {"outcome": "failed", **facts}
        self.dead_letter.write(
            record=incoming.notification.record,
            reason=str(exc),
            attempts=exc.attempts,
            alert_kind=incoming.alert_kind,
            dedup_key=incoming.dedup_key,
            slack_message=message,
        )
        self.log.error(
            "alert not delivered; written to the dead-letter file",
            extra={**facts, "dead_letter": str(self.dead_letter.path), "dedup_key": incoming.dedup_key},
        )
        return {"outcome": "dead_lettered", **facts}

    def _malformed(self, record: Mapping[str, Any], reason: str) -> dict[str, Any]:
        result = {"message_id": "", "alert_kind": "", "dedup_key": "", "source": "", "outcome": "malformed"}
        if self.dead_letter is not None:
            self.dead_letter.write(record=record, reason=reason, attempts=0, alert_kind="", dedup_key="")
        # Retrying cannot fix a record without a message; log it whole so nothing is lost on AWS either.
        self.log.error("record is not an SNS notification", extra={"reason": reason, "record": record})
        return result

    # ---- storm summaries ------------------------------------------------------------------------
    def flush(self, session: GateSession, time_left: TimeLeft) -> int:
        """Post the summaries of storms whose window ended; a failed one stays pending for next time."""
        posted = 0
        for summary in session.pending_summaries():
            message = folded_summary_message(
                summary.alert_kind, summary.count, summary.first_at, summary.last_at, summary.samples
            )
            try:
                self.webhook.post(message, time_left)
            except SlackDeliveryError as exc:
                self.log.warning(
                    "storm summary not delivered; kept for the next invocation",
                    extra={"alert_kind": summary.alert_kind, "count": summary.count, "error": str(exc)},
                )
                break
            session.summary_posted(summary)
            posted += 1
            self.log.info(
                "storm summary posted", extra={"alert_kind": summary.alert_kind, "count": summary.count}
            )
        return posted


_alerter: SlackAlerter | None = None


def get_alerter() -> SlackAlerter:
    """The container's alerter, built on first use (the Secrets Manager read happens on first post)."""
    global _alerter
    if _alerter is None:
        _alerter = SlackAlerter(load_settings())
    return _alerter


def reset_alerter(alerter: SlackAlerter | None = None) -> None:
    """Replace (or drop, to rebuild from the environment) the container's alerter."""
    global _alerter
    _alerter = alerter


def _time_left(context: Any) -> TimeLeft:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return (lambda: remaining() / 1000.0) if callable(remaining) else None


def _record_metrics(results: list[dict[str, Any]], summaries: int) -> None:
    for result in results:
        metrics.add_metric(name=OUTCOME_METRICS[result["outcome"]], unit=MetricUnit.Count, value=1)
    # Always one metric, so scheduled ticks publish a data point too (and Powertools never warns).
    metrics.add_metric(name="StormSummariesPosted", unit=MetricUnit.Count, value=summaries)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Post each SNS record to Slack, or (without records) post due storm summaries."""
    try:
        response = get_alerter().handle(event if isinstance(event, dict) else {}, _time_left(context))
    except AlertsUndelivered as exc:
        metrics.add_metric(name="AlertDeliveryFailures", unit=MetricUnit.Count, value=exc.count)
        raise
    _record_metrics(response["results"], response["summaries_posted"])
    return response
