"""SNS HTTP(S) delivery for the local AWS endpoint that behaves like SNS: asynchronous and retried.

Stock moto 5.2 delivers to an ``http``/``https`` subscription with a plain ``requests.post`` *inside*
the ``Publish`` call, without a timeout or a retry. Under ``edp_local.aws_endpoint.server``, which runs
one request at a time behind a lock, that means:

* a subscriber that is down makes ``Publish`` itself fail (moto answers HTTP 500, botocore raises
  ``ResponseParserError``): the Airflow failure callback's alert is lost, where real SNS would accept
  the message and retry the delivery;
* a slow subscriber stalls every Kinesis and SNS call for as long as it takes (no timeout), and a
  subscriber that calls back into the endpoint while answering (e.g. to confirm the subscription)
  deadlocks it;
* the HTTP body lacks ``MessageAttributes`` and the ``x-amz-sns-*`` headers real SNS sends.

:func:`patch_sns_http_delivery` replaces ``Subscription.publish`` for http(s) subscriptions only: the
message body is built (and the subscription's filter policy applied) inside ``Publish`` as before, and
the POST is handed to one background thread that delivers in order with a timeout and retries with
backoff (like SNS's HTTP delivery policy), never holding the endpoint's lock. ``Publish`` succeeds
whether or not the subscriber is up. Other protocols (sqs, lambda...) keep moto's behaviour.
Deliveries still pending when the endpoint stops are lost, as the endpoint's state is anyway.

Installed by ``edp_local.aws_endpoint.server`` before it serves.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("edp_local.aws_endpoint.sns")

# Real SNS retries HTTP deliveries for up to an hour by default; locally a minute is plenty.
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
TIMEOUT_S = 5.0
HTTP_PROTOCOLS = ("http", "https")


@dataclasses.dataclass(frozen=True)
class HttpDelivery:
    endpoint: str
    body: dict[str, Any]
    headers: dict[str, str]


Post = Callable[[HttpDelivery, float], int]


def requests_post(delivery: HttpDelivery, timeout_s: float) -> int:
    import requests  # noqa: PLC0415 - moto's own dependency

    return requests.post(
        delivery.endpoint, json=delivery.body, headers=delivery.headers, timeout=timeout_s
    ).status_code


class Deliverer:
    """One thread posting deliveries in order; a failed one is retried after each delay, then dropped."""

    def __init__(
        self,
        post: Post = requests_post,
        retry_delays: Sequence[float] = RETRY_DELAYS_S,
        timeout_s: float = TIMEOUT_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.post = post
        self.retry_delays = tuple(retry_delays)
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.delivered = 0
        self.dropped = 0
        self._queue: queue.Queue[HttpDelivery] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sns-http-delivery", daemon=True)
        self._thread.start()

    def submit(self, delivery: HttpDelivery) -> None:
        self._queue.put(delivery)

    def join(self, timeout_s: float = 10.0) -> bool:
        """Wait until every submitted delivery is delivered or dropped (tests)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._queue.unfinished_tasks

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                self._deliver(delivery)
            finally:
                self._queue.task_done()

    def _deliver(self, delivery: HttpDelivery) -> None:
        for attempt, delay in enumerate((*self.retry_delays, None), start=1):
            try:
                status = self.post(delivery, self.timeout_s)
            except Exception as exc:  # connection refused, timeout: SNS retries these
                outcome = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= status < 300:
                    self.delivered += 1
                    return
                outcome = f"HTTP {status}"
            if delay is None:
                break
            log.warning(
                "SNS delivery to %s failed (%s); retry %d in %.1fs",
                delivery.endpoint,
                outcome,
                attempt,
                delay,
            )
            self.sleep(delay)
        self.dropped += 1
        log.error(
            "SNS delivery to %s dropped after %d attempts", delivery.endpoint, len(self.retry_delays) + 1
        )


def make_async_publish(original: Callable[..., None], deliverer: Deliverer) -> Callable[..., None]:
    """A ``Subscription.publish`` that queues http(s) deliveries and leaves other protocols to ``original``."""

    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        if self.protocol not in HTTP_PROTOCOLS:
            original(
                self,
                message,
                message_id,
                subject=subject,
                message_attributes=message_attributes,
                group_id=group_id,
                deduplication_id=deduplication_id,
                message_structure=message_structure,
            )
            return
        matcher = getattr(self, "_filter_policy_matcher", None)
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        body = self.get_post_data(message, message_id, subject, message_attributes=message_attributes)
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": "Notification",
            "x-amz-sns-message-id": message_id,
            "x-amz-sns-topic-arn": self.topic.arn,
            "x-amz-sns-subscription-arn": self.arn,
        }
        deliverer.submit(HttpDelivery(self.endpoint, body, headers))

    return publish


_installed: Deliverer | None = None


def patch_sns_http_delivery(deliverer: Deliverer | None = None) -> Deliverer:
    """Install the asynchronous http(s) delivery in moto's SNS models (once per process)."""
    global _installed
    if _installed is not None:
        return _installed
    from moto.sns import models  # noqa: PLC0415 - patched only when serving

    _installed = deliverer or Deliverer()
    models.Subscription.publish = make_async_publish(models.Subscription.publish, _installed)
    return _installed
