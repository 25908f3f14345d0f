"""The SNS -> Slack function: Block Kit from recorded SNS events, webhook retries, dead letters, storms."""

from __future__ import annotations

import copy
import dataclasses
import json
import urllib.error
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from edp.alerting.slack import handler as handler_module
from edp.alerting.slack.dead_letter import DeadLetterFile
from edp.alerting.slack.gate import AlertGate, FileStateStore, MemoryStateStore
from edp.alerting.slack.handler import AlertsUndelivered, SlackAlerter, lambda_handler, reset_alerter
from edp.alerting.slack.messages import FIELD_LIMIT, HEADER_LIMIT, SECTION_LIMIT
from edp.alerting.slack.settings import (
    ConfigurationError,
    GatePolicy,
    RetryPolicy,
    SlackSettings,
    load_settings,
)
from edp.alerting.slack.webhook import HttpResult, SlackWebhook, WebhookUrl, retry_after_seconds
from edp.config import get_config

pytestmark = [pytest.mark.unit, pytest.mark.disable_socket]

EVENTS = Path(__file__).resolve().parents[1] / "events"
WEBHOOK = "https://hooks.slack.test/services/T000/B000/XXXX"
RUNBOOK_BASE = "https://github.test/edp/platform/blob/main/"
PLATFORM_ALERT_EVENTS = {
    "sns_alert_task_failure.json": ("task_failure", "error", ":red_circle:"),
    "sns_alert_quality_gate_failed.json": ("quality_gate_failed", "error", ":red_circle:"),
    "sns_alert_freshness_deadline_missed.json": ("freshness_deadline_missed", "error", ":red_circle:"),
    "sns_alert_streaming_unrecoverable.json": ("streaming_unrecoverable", "critical", ":rotating_light:"),
}


# ---- fixtures and helpers ----------------------------------------------------------------------
def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def alert_of(event: dict[str, Any]) -> dict[str, Any]:
    return json.loads(event["Records"][0]["Sns"]["Message"])


def with_alert(event: dict[str, Any], message_id: str, **changes: Any) -> dict[str, Any]:
    """A copy of a recorded event carrying a changed alert and its own SNS message id."""
    event = copy.deepcopy(event)
    sns = event["Records"][0]["Sns"]
    sns["Message"] = json.dumps({**json.loads(sns["Message"]), **changes}, sort_keys=True)
    sns["MessageId"] = message_id
    return event


class FakeSlack:
    """A scripted webhook: answers come from ``script`` (status ints, HttpResults or exceptions), then 200."""

    def __init__(self, script: list[Any] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[dict[str, Any]] = []
        self.urls: list[str] = []

    def __call__(self, url: str, body: bytes, timeout_s: float) -> HttpResult:
        self.urls.append(url)
        self.requests.append(json.loads(body))
        answer = self.script.pop(0) if self.script else 200
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, HttpResult):
            return answer
        return HttpResult(answer, "ok" if answer == 200 else "error", {})


class Clock:
    def __init__(self, start: float = 1_772_400_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def settings(tmp_path: Path) -> SlackSettings:
    return SlackSettings(
        environment="local",
        region="us-east-1",
        webhook_url=WEBHOOK,
        webhook_secret_id=None,
        runbook_base_url=RUNBOOK_BASE,
        dead_letter_path=tmp_path / "slack" / "dead_letter.jsonl",
        state_path=tmp_path / "slack" / "alert_state.json",
        retry=RetryPolicy(
            max_attempts=4, base_delay_s=0.5, max_delay_s=8.0, min_time_left_s=1.0, timeout_s=2.0
        ),
        gate=GatePolicy(dedup_window_s=3600, rate_limit=3, rate_window_s=600),
    )


AlerterFactory = Callable[..., tuple[SlackAlerter, FakeSlack]]


@pytest.fixture
def make_alerter(settings: SlackSettings, clock: Clock, sleeps: list[float]) -> AlerterFactory:
    """``make_alerter(script=[...], **setting_changes)``: an alerter posting to a :class:`FakeSlack`."""

    def make(
        script: list[Any] | None = None, rand: float = 1.0, **changes: Any
    ) -> tuple[SlackAlerter, FakeSlack]:
        effective = dataclasses.replace(settings, **changes)
        slack = FakeSlack(script)
        webhook = SlackWebhook(
            WebhookUrl(effective.webhook_url, effective.webhook_secret_id, effective.region),
            effective.retry,
            transport=slack,
            sleep=sleeps.append,
            rand=lambda: rand,
        )
        store = FileStateStore(effective.state_path) if effective.state_path else MemoryStateStore()
        return SlackAlerter(effective, webhook=webhook, gate=AlertGate(store, effective.gate, clock)), slack

    return make


def blocks_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if b["type"] == kind]


def field_texts(message: dict[str, Any]) -> dict[str, str]:
    fields = [f["text"] for b in blocks_of(message, "section") for f in b.get("fields", [])]
    return dict(text.split("\n", 1) for text in fields)


def button_urls(message: dict[str, Any]) -> dict[str, str]:
    return {e["text"]["text"]: e["url"] for b in blocks_of(message, "actions") for e in b["elements"]}


# ---- formatting ----------------------------------------------------------------------------------
def test_task_failure_event_becomes_block_kit_with_every_field_an_operator_needs(make_alerter) -> None:
    event = load_event("sns_alert_task_failure.json")
    alert = alert_of(event)
    alerter, slack = make_alerter()

    result = alerter.handle(event)

    assert [r["outcome"] for r in result["results"]] == ["posted"]
    [message] = slack.requests
    header = blocks_of(message, "header")[0]["text"]["text"]
    assert header == ":red_circle: Task failure: events_to_silver.merge_into_silver (try 3)"
    assert field_texts(message) == {
        "*DAG*": "`events_to_silver`",
        "*Task*": "`merge_into_silver`",
        "*Run*": "`scheduled__2026-03-01T09:00:00+00:00`",
        "*Try*": "3",
        "*Environment*": "aws",
        "*Data interval*": "2026-03-01T09:00:00+00:00 → 2026-03-01T10:00:00+00:00",
    }
    error_block = next(
        b for b in blocks_of(message, "section") if b.get("text", {}).get("text", "").startswith("*Error*")
    )
    assert "MERGE failed: 12 rows violate the silver.events schema" in error_block["text"]["text"]
    assert "Traceback" not in error_block["text"]["text"]  # only the summary; the log has the rest
    assert button_urls(message) == {
        "View task log": alert["log_url"],
        "Runbook": RUNBOOK_BASE + "docs/runbooks/task_failure.md",
    }
    assert message["text"].startswith("[ERROR][aws] Task failure: events_to_silver.merge_into_silver (try 3)")


@pytest.mark.parametrize("fixture", sorted(PLATFORM_ALERT_EVENTS))
def test_every_platform_alert_kind_links_its_own_runbook_and_shows_its_severity(
    make_alerter, fixture
) -> None:
    kind, severity, emoji = PLATFORM_ALERT_EVENTS[fixture]
    alerter, slack = make_alerter()

    alerter.handle(load_event(fixture))

    [message] = slack.requests
    assert blocks_of(message, "header")[0]["text"]["text"].startswith(emoji + " ")
    assert f"*{severity.upper()}*" in blocks_of(message, "context")[0]["elements"][0]["text"]
    assert button_urls(message)["Runbook"] == f"{RUNBOOK_BASE}docs/runbooks/{kind}.md"
    assert (Path(__file__).resolve().parents[2] / "docs" / "runbooks" / f"{kind}.md").is_file()


def test_quality_gate_alert_lists_the_failed_expectations(make_alerter) -> None:
    alerter, slack = make_alerter()

    alerter.handle(load_event("sns_alert_quality_gate_failed.json"))

    details = next(
        b
        for b in blocks_of(slack.requests[0], "section")
        if b.get("text", {}).get("text", "").startswith("*Details*")
    )
    assert "expect_column_values_to_not_be_null(user_id)" in details["text"]["text"]
    assert "*suite*: silver_events_contract" in details["text"]["text"]


def test_streaming_supervisor_alert_is_deduplicated_by_its_incident(make_alerter) -> None:
    event = load_event("sns_alert_streaming_unrecoverable.json")
    alerter, slack = make_alerter()

    first = alerter.handle(event)
    # The supervisor fails every run while the incident lasts; a second publish reuses the incident key.
    second = alerter.handle(
        with_alert(event, "another-message-id", run_id="scheduled__2026-03-01T12:12:00+00:00")
    )

    assert first["results"][0]["dedup_key"] == "streaming_unrecoverable/8b1f0c2d7e4a"
    assert [second["results"][0]["outcome"]] == ["duplicate"]
    assert len(slack.requests) == 1


def test_cloudwatch_alarm_shows_state_metric_and_the_runbook_section(make_alerter) -> None:
    alerter, slack = make_alerter()

    result = alerter.handle(load_event("sns_cloudwatch_alarm.json"))

    assert result["results"][0]["alert_kind"] == "cloudwatch_alarm"
    [message] = slack.requests
    assert (
        "CloudWatch alarm edp-platform-kinesis-iterator-age is ALARM"
        in blocks_of(message, "header")[0]["text"]["text"]
    )
    fields = field_texts(message)
    assert fields["*State*"] == "OK → *ALARM*"
    assert fields["*Metric*"] == "`AWS/Kinesis/GetRecords.IteratorAgeMilliseconds`"
    urls = button_urls(message)
    assert urls["Runbook"] == RUNBOOK_BASE + "docs/runbooks/cloudwatch_alarm.md#kinesis-iterator-age"
    assert "alarm/edp-platform-kinesis-iterator-age" in urls["Open alarm"]


def test_a_foreign_message_is_shown_as_text_with_slack_control_characters_escaped(make_alerter) -> None:
    alerter, slack = make_alerter()

    result = alerter.handle(load_event("sns_foreign_message.json"))

    assert result["results"][0]["outcome"] == "posted"
    [message] = slack.requests
    assert blocks_of(message, "header")[0]["text"]["text"].endswith("Test from the console")
    body = blocks_of(message, "section")[0]["text"]["text"]
    assert "is the &lt;alert&gt; path working? &amp; yes" in body


def test_huge_values_are_cut_to_slack_limits_and_unusable_links_are_left_out(make_alerter) -> None:
    event = with_alert(
        load_event("sns_alert_task_failure.json"),
        "huge",
        title="T" * 400,
        error="E" * 10_000,
        run_id="R" * 3_000,
        log_url="https://airflow.test/" + "x" * 4_000,
    )
    alerter, slack = make_alerter()

    alerter.handle(event)

    [message] = slack.requests
    assert len(blocks_of(message, "header")[0]["text"]["text"]) <= HEADER_LIMIT
    assert all(
        len(f["text"]) <= FIELD_LIMIT for b in blocks_of(message, "section") for f in b.get("fields", [])
    )
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in blocks_of(message, "section") if "text" in b)
    assert "View task log" not in button_urls(message)  # over Slack's URL limit: Slack would reject it
    assert "Runbook" in button_urls(message)


def test_without_a_runbook_base_url_the_runbook_path_is_shown_as_text(make_alerter) -> None:
    alerter, slack = make_alerter(runbook_base_url=None)

    alerter.handle(load_event("sns_alert_task_failure.json"))

    [message] = slack.requests
    assert "Runbook" not in button_urls(message)
    assert "`docs/runbooks/task_failure.md`" in json.dumps(blocks_of(message, "context"))


# ---- delivery: retries, backoff, dead letters ---------------------------------------------------------
def test_5xx_and_429_are_retried_with_growing_backoff_honouring_retry_after(make_alerter, sleeps) -> None:
    script = [500, HttpResult(429, "rate_limited", {"Retry-After": "3"}), 200]
    alerter, slack = make_alerter(script=script, rand=1.0)

    result = alerter.handle(load_event("sns_alert_task_failure.json"))

    assert result["results"][0] | {"outcome": "posted", "attempts": 3} == result["results"][0]
    assert len(slack.requests) == 3
    assert slack.requests[0] == slack.requests[2]  # the same message each time
    # full jitter with rand=1: the ceilings 0.5 s, then max(1.0 s, Retry-After 3 s)
    assert sleeps == [0.5, 3.0]


def test_backoff_is_jittered_below_the_exponential_ceiling(make_alerter, sleeps) -> None:
    alerter, _ = make_alerter(script=[503, 503, 503, 200], rand=0.25)

    alerter.handle(load_event("sns_alert_task_failure.json"))

    assert sleeps == [0.125, 0.25, 0.5]  # 0.25 x (0.5, 1, 2)


def test_connection_errors_are_retried(make_alerter) -> None:
    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    alerter, slack = make_alerter(script=[refused, TimeoutError("timed out"), 200])

    result = alerter.handle(load_event("sns_alert_task_failure.json"))

    assert result["results"][0]["outcome"] == "posted"
    assert len(slack.requests) == 3


def test_when_retries_are_exhausted_the_alert_is_dead_lettered_and_replayable(
    make_alerter, settings, sleeps
) -> None:
    event = load_event("sns_alert_task_failure.json")
    alerter, slack = make_alerter(script=[503] * 4)

    result = alerter.handle(event)

    assert result["results"][0]["outcome"] == "dead_lettered"
    assert len(slack.requests) == 4 and sleeps == [0.5, 1.0, 2.0]
    [entry] = DeadLetterFile(settings.dead_letter_path).read_all()
    assert entry["record"] == event["Records"][0]  # the SNS record unchanged, so it can be replayed
    assert entry["dedup_key"] == alert_of(event)["dedup_key"]
    assert "HTTP 503" in entry["reason"] and entry["attempts"] == 4
    # Slack is back: replaying the entry posts it (it was never marked as sent).
    replayed = alerter.handle({"Records": [entry["record"]]})
    assert replayed["results"][0]["outcome"] == "posted"


def test_on_aws_an_undelivered_alert_fails_the_invocation_so_lambda_retries_it(make_alerter) -> None:
    event = load_event("sns_alert_task_failure.json")
    alerter, slack = make_alerter(script=[503] * 4, dead_letter_path=None, state_path=None)

    with pytest.raises(AlertsUndelivered, match="1 of 1 alert"):
        alerter.handle(event)

    # Lambda's retry of the same event: Slack answers now, and the alert is posted once.
    retried = alerter.handle(event)
    assert retried["results"][0]["outcome"] == "posted"
    assert len(slack.requests) == 5


def test_a_retry_after_longer_than_we_may_wait_hands_over_to_the_outer_retry(make_alerter, sleeps) -> None:
    alerter, slack = make_alerter(script=[HttpResult(429, "rate_limited", {"Retry-After": "120"})])

    result = alerter.handle(load_event("sns_alert_task_failure.json"))

    assert result["results"][0]["outcome"] == "dead_lettered"
    assert len(slack.requests) == 1 and sleeps == []


def test_retries_stop_when_the_invocation_is_about_to_time_out(make_alerter) -> None:
    alerter, slack = make_alerter(script=[503] * 4)

    result = alerter.handle(load_event("sns_alert_task_failure.json"), time_left=lambda: 2.5)

    assert result["results"][0]["outcome"] == "dead_lettered"
    assert len(slack.requests) == 1  # 2.5 s left cannot fit a backoff plus a 2 s request plus 1 s margin


def test_client_errors_are_not_retried(make_alerter) -> None:
    alerter, slack = make_alerter(script=[HttpResult(400, "invalid_blocks", {})])

    result = alerter.handle(load_event("sns_alert_task_failure.json"))

    assert result["results"][0]["outcome"] == "dead_lettered"
    assert "invalid_blocks" in result["results"][0]["error"]
    assert len(slack.requests) == 1


def test_webhook_url_from_secrets_manager_is_read_once_and_again_after_rotation(settings, sleeps) -> None:
    secrets = iter(['{"webhook_url": "https://hooks.slack.test/old"}', "https://hooks.slack.test/new"])
    reads: list[str] = []

    def fetch(secret_id: str, region: str) -> str:
        reads.append(secret_id)
        return next(secrets)

    slack = FakeSlack([200, HttpResult(404, "no_service", {}), 200])
    url = WebhookUrl(None, "edp/slack-webhook", "us-east-1", fetch_secret=fetch)
    webhook = SlackWebhook(url, settings.retry, transport=slack, sleep=sleeps.append)

    webhook.post({"text": "one"})
    webhook.post({"text": "two"})  # 404 from a revoked URL: read the secret again, then succeed

    assert reads == ["edp/slack-webhook", "edp/slack-webhook"]
    assert slack.urls == [
        "https://hooks.slack.test/old",
        "https://hooks.slack.test/old",
        "https://hooks.slack.test/new",
    ]
    assert sleeps == []


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert retry_after_seconds("soon") is None


# ---- storms: dedup and rate limit ---------------------------------------------------------------------
def test_the_same_dedup_key_posts_once_within_the_window_and_again_after_it(make_alerter, clock) -> None:
    event = load_event("sns_alert_task_failure.json")
    alerter, slack = make_alerter()

    outcomes = [alerter.handle(with_alert(event, f"m{i}"))["results"][0]["outcome"] for i in range(3)]
    clock.advance(3601)
    after_window = alerter.handle(with_alert(event, "m-late"))["results"][0]["outcome"]

    assert outcomes == ["posted", "duplicate", "duplicate"]
    assert after_window == "posted"
    assert len(slack.requests) == 2


def test_an_sns_redelivery_of_one_message_is_dropped(make_alerter) -> None:
    event = load_event("sns_cloudwatch_alarm.json")
    alerter, slack = make_alerter()

    assert alerter.handle(event)["results"][0]["outcome"] == "posted"
    assert alerter.handle(event)["results"][0]["outcome"] == "duplicate"
    assert len(slack.requests) == 1


def test_a_burst_of_one_kind_is_folded_into_a_storm_notice_and_one_summary(make_alerter, clock) -> None:
    base = load_event("sns_alert_task_failure.json")
    alerter, slack = make_alerter()  # rate limit 3 per 600 s
    burst = [
        with_alert(base, f"m{i}", dedup_key=f"events_to_silver/t{i}/run/1", title=f"Task failure {i}")
        for i in range(10)
    ]

    outcomes = [alerter.handle(event)["results"][0]["outcome"] for event in burst]
    other_kind = alerter.handle(load_event("sns_alert_quality_gate_failed.json"))["results"][0]["outcome"]
    too_early = alerter.handle({})  # a scheduled tick inside the window: nothing to summarise yet
    clock.advance(601)
    tick = alerter.handle({"source": "aws.events", "detail-type": "Scheduled Event"})
    again = alerter.handle({})

    assert outcomes == ["posted"] * 3 + ["storm_posted"] + ["folded"] * 6
    assert other_kind == "posted"  # limits are per alert kind
    assert too_early["summaries_posted"] == 0
    assert (tick["summaries_posted"], again["summaries_posted"]) == (1, 0)
    headers = [blocks_of(m, "header")[0]["text"]["text"] for m in slack.requests]
    assert headers[3] == ":cyclone: Alert storm: task_failure over 3 per 10 min"
    assert "Task failure 3" in json.dumps(
        slack.requests[3]
    )  # the storm notice shows the alert that tipped it
    assert headers[-1] == ":cyclone: 6 folded task_failure alerts"
    summary = json.dumps(slack.requests[-1])
    assert "Task failure 4" in summary and "and 1 more" in summary  # five samples, then the count
    assert len(slack.requests) == 3 + 1 + 1 + 1


def test_a_summary_slack_refuses_stays_pending_for_the_next_invocation(make_alerter, clock) -> None:
    base = load_event("sns_alert_task_failure.json")
    alerter, slack = make_alerter()
    for i in range(5):
        alerter.handle(with_alert(base, f"m{i}", dedup_key=f"k{i}"))
    clock.advance(601)
    slack.script = [503] * 4

    failed_tick = alerter.handle({})
    next_tick = alerter.handle({})

    assert (failed_tick["summaries_posted"], next_tick["summaries_posted"]) == (0, 1)
    assert "1 folded task_failure alert" in json.dumps(slack.requests[-1])


def test_dedup_state_in_the_state_file_outlives_the_container(make_alerter) -> None:
    event = load_event("sns_alert_task_failure.json")
    first, _ = make_alerter()
    first.handle(event)

    restarted, slack = make_alerter()  # a new process with the same state file
    result = restarted.handle(with_alert(event, "redelivered-after-restart"))

    assert result["results"][0]["outcome"] == "duplicate"
    assert slack.requests == []


# ---- the Lambda entry point and settings ----------------------------------------------------------------
@pytest.fixture
def installed_alerter(make_alerter) -> Iterator[FakeSlack]:
    alerter, slack = make_alerter()
    reset_alerter(alerter)
    yield slack
    reset_alerter(None)


def test_lambda_handler_posts_and_logs_structured_json(installed_alerter, caplog) -> None:
    context = SimpleNamespace(
        function_name="edp-sns_to_slack",
        memory_limit_in_mb=128,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:edp-sns_to_slack",
        aws_request_id="req-1",
        get_remaining_time_in_millis=lambda: 60_000,
    )

    response = lambda_handler(load_event("sns_alert_task_failure.json"), context)

    assert response["results"][0]["outcome"] == "posted"
    assert len(installed_alerter.requests) == 1
    record = next(r for r in caplog.records if r.getMessage() == "alert posted to Slack")
    posted = json.loads(handler_module.logger.registered_formatter.format(record))  # the line Lambda logs
    assert posted["service"] == "sns-to-slack"
    assert posted["function_request_id"] == "req-1"
    assert posted["dedup_key"].startswith("events_to_silver/merge_into_silver/")


def test_a_record_that_is_not_an_sns_notification_is_kept_not_lost(make_alerter, settings) -> None:
    alerter, slack = make_alerter()

    result = alerter.handle({"Records": [{"EventSource": "aws:sqs", "body": "?"}]})

    assert result["results"][0]["outcome"] == "malformed"
    assert slack.requests == []
    assert DeadLetterFile(settings.dead_letter_path).read_all()[0]["record"]["body"] == "?"


def test_local_settings_default_to_the_local_receiver_and_state_dir(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path))
    config = get_config()

    settings = load_settings(environ={}, config=config)

    assert (
        settings.webhook_url == f"http://127.0.0.1:{config.ports.slack}/services/LOCAL/ALERTS/platform-alerts"
    )
    assert settings.runbook_base_url == f"http://127.0.0.1:{config.ports.slack}/"
    assert settings.dead_letter_path == tmp_path / "slack" / "dead_letter.jsonl"
    assert settings.state_path == tmp_path / "slack" / "alert_state.json"


def test_on_aws_the_webhook_secret_is_required_and_nothing_is_written_to_disk(monkeypatch) -> None:
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    config = get_config()

    with pytest.raises(ConfigurationError, match="SLACK_WEBHOOK_SECRET_ID"):
        load_settings(environ={}, config=config)
    settings = load_settings(
        environ={"SLACK_WEBHOOK_SECRET_ID": "edp/slack", "SLACK_RATE_LIMIT": "7"}, config=config
    )
    assert (settings.dead_letter_path, settings.state_path) == (None, None)
    assert settings.gate.rate_limit == 7
    assert handler_module.SlackAlerter(settings).dead_letter is None
