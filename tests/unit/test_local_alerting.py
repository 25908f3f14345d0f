"""Local alert path pieces in-process: the Slack receiver, the SNS bridge's spool and retries, moto's SNS delivery."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from edp_local.alerting.slack_receiver import Outage, Receiver, create_app
from edp_local.alerting.sns_bridge import Bridge, Spool, drain_jsonl, lambda_sns_event
from edp_local.alerting.sns_bridge import create_app as create_bridge_app
from edp_local.aws_endpoint.sns import Deliverer, HttpDelivery, make_async_publish

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
HTTP_NOTIFICATION = {
    "Type": "Notification",
    "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    "TopicArn": "arn:aws:sns:us-east-1:000000000000:edp-platform-alerts",
    "Subject": "[ERROR][local] Task failure: d.t (try 3)",
    "Message": json.dumps({"schema_version": 1, "alert_kind": "task_failure", "dedup_key": "d/t/r/3"}),
    "Timestamp": "2026-03-01T10:07:31.123Z",
    "SignatureVersion": "2",
    "Signature": "c2ln",
    "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
    "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
    "MessageAttributes": {"alert_kind": {"Type": "String", "Value": "task_failure"}},
}


# ---- the Slack receiver ----------------------------------------------------------------------------
@pytest.fixture
def receiver(tmp_path: Path) -> Receiver:
    return Receiver(tmp_path / "slack" / "messages.jsonl", REPO / "docs" / "runbooks")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client_for(app) -> httpx.AsyncClient:
    """In-process HTTP against the ASGI app (no sockets)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://local.test")


@pytest.fixture
async def slack(receiver: Receiver):
    async with client_for(create_app(receiver)) as client:
        yield client


@pytest.mark.anyio
async def test_receiver_accepts_like_slack_and_records_every_message(slack, receiver) -> None:
    block_message = {
        "text": "fallback",
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "Hi"}}],
    }

    ok = await slack.post("/services/T/B/X", json=block_message)
    form = await slack.post("/services/T/B/X", data={"payload": json.dumps({"text": "form-encoded"})})
    empty = await slack.post("/services/T/B/X", json={"channel": "#x"})
    junk = await slack.post("/services/T/B/X", content=b"not json")

    assert (ok.status_code, ok.text) == (200, "ok")
    assert form.status_code == 200
    assert (empty.status_code, empty.text) == (400, "no_text")
    assert (junk.status_code, junk.text) == (400, "invalid_payload")
    messages = (await slack.get("/messages")).json()
    assert [m["payload"] for m in messages] == [block_message, {"text": "form-encoded"}]
    assert json.loads(receiver.messages_path.read_text().splitlines()[0])["path"] == "/services/T/B/X"
    assert (await slack.get("/messages?since=1")).json()[0]["payload"]["text"] == "form-encoded"


@pytest.mark.anyio
async def test_receiver_simulates_an_outage_with_retry_after_and_recovers(slack) -> None:
    await slack.post("/_control/outage", json={"status": 429, "retry_after": 2, "count": 2})

    answers = [await slack.post("/services/T/B/X", json={"text": f"m{i}"}) for i in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["retry-after"] == "2"
    health = (await slack.get("/health")).json()
    assert (health["messages"], health["rejected"], health["outage"]) == (1, 2, None)
    await slack.post("/_control/outage", json={})
    assert (await slack.post("/services/T/B/X", json={"text": "x"})).status_code == 503
    await slack.delete("/_control/outage")
    assert (await slack.post("/services/T/B/X", json={"text": "x"})).status_code == 200


@pytest.mark.anyio
async def test_receiver_page_renders_block_kit_and_escapes_content(slack) -> None:
    await slack.post(
        "/services/T/B/X",
        json={
            "text": "t",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "<script>alert(1)</script>"}},
                {"type": "section", "fields": [{"type": "mrkdwn", "text": "*DAG*\n`events_to_silver`"}]},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Runbook"},
                            "url": "http://x/r.md",
                        }
                    ],
                },
            ],
        },
    )

    page = (await slack.get("/")).text

    assert "&lt;script&gt;" in page and "<script>alert" not in page
    assert "<b>DAG</b><br><code>events_to_silver</code>" in page
    assert '<a class="btn" href="http://x/r.md">Runbook</a>' in page


@pytest.mark.anyio
async def test_receiver_serves_runbooks_and_nothing_else(slack) -> None:
    assert "# Runbook: `task_failure`" in (await slack.get("/docs/runbooks/task_failure.md")).text
    assert (await slack.get("/docs/runbooks/..%2F..%2Fpyproject.toml")).status_code == 404
    assert (await slack.get("/docs/runbooks/missing.md")).status_code == 404


@pytest.mark.anyio
async def test_outage_from_the_environment(monkeypatch, tmp_path) -> None:
    from edp_local.alerting.slack_receiver import build_app

    monkeypatch.setenv("SLACK_RECEIVER_OUTAGE", "502")
    async with client_for(build_app(tmp_path, REPO)) as client:
        assert (await client.post("/services/a", json={"text": "x"})).status_code == 502
    assert Outage(status=502) == Outage(502)


# ---- the SNS bridge -----------------------------------------------------------------------------------
def test_an_sns_http_notification_becomes_the_lambda_sns_event() -> None:
    event = lambda_sns_event(
        HTTP_NOTIFICATION, "arn:aws:sns:us-east-1:000000000000:edp-platform-alerts:sub-1"
    )

    [record] = event["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"].endswith(":sub-1")
    sns = record["Sns"]
    assert sns["Message"] == HTTP_NOTIFICATION["Message"]
    assert (sns["MessageId"], sns["Subject"], sns["Timestamp"]) == (
        HTTP_NOTIFICATION["MessageId"],
        HTTP_NOTIFICATION["Subject"],
        HTTP_NOTIFICATION["Timestamp"],
    )
    # Lambda spells these differently from the HTTP body.
    assert sns["SigningCertUrl"] == HTTP_NOTIFICATION["SigningCertURL"]
    assert sns["UnsubscribeUrl"] == HTTP_NOTIFICATION["UnsubscribeURL"]
    assert sns["MessageAttributes"] == {"alert_kind": {"Type": "String", "Value": "task_failure"}}


class FlakyHandler:
    """Fails the first ``failures`` invocations, then records events."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if self.failures > 0:
                self.failures -= 1
                raise RuntimeError("handler crashed")
            self.events.append(event)
            return {"ok": True}


def make_bridge(tmp_path: Path, handler, **kwargs) -> Bridge:
    return Bridge(
        handler,
        Spool(tmp_path / "spool"),
        tmp_path / "on_failure.jsonl",
        lambda: "arn:sub",
        function_arn="arn:aws:lambda:us-east-1:000000000000:function:edp-sns_to_slack",
        retry_delays=(0.01, 0.02),
        tick_s=3600,
        resubscribe_s=3600,
        **kwargs,
    )


@pytest.mark.anyio
async def test_bridge_acknowledges_at_once_and_invokes_the_handler_in_the_background(tmp_path) -> None:
    handler = FlakyHandler(failures=1)  # one failed invocation: retried like Lambda's async retry
    bridge = make_bridge(tmp_path, handler)
    bridge.start()
    try:
        async with client_for(create_bridge_app(bridge)) as client:
            body = json.dumps(HTTP_NOTIFICATION)
            answer = await client.post("/sns", content=body, headers={"content-type": "text/plain"})
            assert answer.status_code == 200
            assert (await client.post("/_control/drain?timeout=10")).json()["idle"] is True
            health = (await client.get("/health")).json()
    finally:
        bridge.stop()

    assert [e["Records"][0]["Sns"]["MessageId"] for e in handler.events] == [HTTP_NOTIFICATION["MessageId"]]
    assert (health["received"], health["errors"], health["pending"], health["subscribed"]) == (1, 1, 0, True)


def test_bridge_sends_an_event_that_keeps_failing_to_the_on_failure_destination_and_redrives_it(
    tmp_path,
) -> None:
    handler = FlakyHandler(failures=3)  # the first try and both retries fail
    bridge = make_bridge(tmp_path, handler, redrive_sources=[drain_jsonl(tmp_path / "on_failure.jsonl")])
    bridge.start()
    try:
        bridge.accept(HTTP_NOTIFICATION)
        assert bridge.wait_idle(10)
        [record] = [json.loads(line) for line in (tmp_path / "on_failure.jsonl").read_text().splitlines()]
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        assert record["responsePayload"] == {"errorMessage": "handler crashed", "errorType": "RuntimeError"}
        assert handler.events == []

        assert bridge.redrive() == 1  # the handler works again: the replay lands
        assert bridge.wait_idle(10)
    finally:
        bridge.stop()

    assert [e["Records"][0]["Sns"]["MessageId"] for e in handler.events] == [HTTP_NOTIFICATION["MessageId"]]
    assert (tmp_path / "on_failure.jsonl").read_text() == ""
    assert Spool(tmp_path / "spool").pending() == []


def test_bridge_replays_what_it_spooled_but_did_not_finish_before_a_restart(tmp_path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.put(lambda_sns_event(HTTP_NOTIFICATION, "arn:sub"), "left-over")
    handler = FlakyHandler(failures=0)
    bridge = make_bridge(tmp_path, handler)

    bridge.start()
    try:
        assert bridge.wait_idle(10)
    finally:
        bridge.stop()

    assert len(handler.events) == 1 and spool.pending() == []


@pytest.mark.anyio
async def test_bridge_confirms_a_subscription_off_the_request(tmp_path) -> None:
    confirmed = threading.Event()
    calls: list[tuple[str, str]] = []

    def confirm(topic: str, token: str) -> None:
        calls.append((topic, token))
        confirmed.set()

    bridge = make_bridge(tmp_path, FlakyHandler(0))
    message = {
        "Type": "SubscriptionConfirmation",
        "TopicArn": "arn:t",
        "Token": "tok",
        "SubscribeURL": "https://x",
    }

    async with client_for(create_bridge_app(bridge, confirm)) as client:
        assert (await client.post("/sns", content=json.dumps(message))).status_code == 200
        assert (await client.post("/sns", content=b"[]")).status_code == 400
    assert confirmed.wait(5) and calls == [("arn:t", "tok")]


# ---- moto SNS: asynchronous, retried HTTP delivery ------------------------------------------------------
def test_delivery_is_retried_until_the_subscriber_answers(tmp_path) -> None:
    answers = iter([ConnectionError("refused"), 503, 200])
    posted: list[HttpDelivery] = []
    sleeps: list[float] = []

    def post(delivery: HttpDelivery, timeout_s: float) -> int:
        posted.append(delivery)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    deliverer = Deliverer(post, retry_delays=(0.5, 1.0, 2.0), sleep=sleeps.append)
    deliverer.submit(HttpDelivery("http://x/sns", {"Message": "m"}, {}))

    assert deliverer.join(5)
    assert (len(posted), sleeps, deliverer.delivered, deliverer.dropped) == (3, [0.5, 1.0], 1, 0)


@pytest.mark.disable_socket
def test_publish_succeeds_while_an_http_subscriber_is_down_and_sqs_delivery_is_unchanged(monkeypatch) -> None:
    from moto.sns import models

    delivered: list[HttpDelivery] = []
    deliverer = Deliverer(lambda d, t: delivered.append(d) or 200, retry_delays=())
    monkeypatch.setattr(
        models.Subscription, "publish", make_async_publish(models.Subscription.publish, deliverer)
    )
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint="http://127.0.0.1:9/sns")
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

        message_id = sns.publish(
            TopicArn=topic,
            Message='{"alert_kind": "task_failure"}',
            Subject="s",
            MessageAttributes={"severity": {"DataType": "String", "StringValue": "error"}},
        )["MessageId"]
        assert deliverer.join(5)
        queued = sqs.receive_message(QueueUrl=queue)["Messages"]

    [delivery] = delivered
    assert delivery.endpoint == "http://127.0.0.1:9/sns"
    assert delivery.body["MessageId"] == message_id and delivery.body["Type"] == "Notification"
    assert delivery.body["MessageAttributes"] == {"severity": {"Type": "String", "Value": "error"}}
    assert delivery.headers["x-amz-sns-message-type"] == "Notification"
    assert delivery.headers["x-amz-sns-topic-arn"] == topic
    assert json.loads(queued[0]["Body"])["MessageId"] == message_id
