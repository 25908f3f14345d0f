"""Post a message to a Slack incoming webhook, retrying what a retry can fix.

Retried: HTTP 429 (waiting at least its ``Retry-After``), any 5xx, and connection errors/timeouts,
with exponential backoff and full jitter, until the attempts or the invocation's time run out. Not
retried: other 4xx (Slack's ``invalid_payload``, ``no_service``, ``channel_is_archived`` ...), which
no retry changes, except that a 403/404/410 re-reads the webhook URL once, in case the secret was
rotated. Either way a failure raises :class:`SlackDeliveryError` and the caller decides what keeps
the alert (dead-letter file locally, Lambda's retries and on-failure destination on AWS).

The webhook URL comes from ``SLACK_WEBHOOK_URL`` or from Secrets Manager (``SLACK_WEBHOOK_SECRET_ID``),
read once per container and cached (:class:`WebhookUrl`).
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from edp.alerting.slack.settings import ConfigurationError, RetryPolicy

REREAD_URL_STATUSES = frozenset({403, 404, 410})


class SlackDeliveryError(RuntimeError):
    """Slack did not take the message.

    :param attempts: requests made.
    :param retryable: whether a later try could succeed (429, 5xx, connection errors).
    :param status: the last HTTP status, ``None`` for a connection error.
    """

    def __init__(self, message: str, *, attempts: int, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.retryable = retryable
        self.status = status


@dataclasses.dataclass(frozen=True)
class HttpResult:
    status: int
    body: str
    headers: Mapping[str, str]


class Transport(Protocol):
    def __call__(self, url: str, body: bytes, timeout_s: float) -> HttpResult: ...


def urllib_transport(url: str, body: bytes, timeout_s: float) -> HttpResult:
    """POST JSON with the standard library; HTTP errors come back as results, network errors raise."""
    request = urllib.request.Request(  # noqa: S310 - the URL is our configured webhook (https on AWS)
        url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return HttpResult(
                response.status, response.read().decode("utf-8", "replace"), dict(response.headers)
            )
    except urllib.error.HTTPError as exc:
        payload = exc.read().decode("utf-8", "replace") if exc.fp else ""
        return HttpResult(exc.code, payload, dict(exc.headers or {}))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(tz=UTC))).total_seconds())


def backoff_delay(attempt: int, policy: RetryPolicy, rand: Callable[[], float]) -> float:
    """Full jitter: uniform in ``[0, min(max, base * 2**(attempt-1))]`` after the ``attempt``-th failure."""
    ceiling = min(policy.max_delay_s, policy.base_delay_s * (2 ** max(attempt - 1, 0)))
    return rand() * ceiling


class WebhookUrl:
    """The webhook URL: from the environment, or from Secrets Manager once per container."""

    def __init__(
        self,
        url: str | None,
        secret_id: str | None,
        region: str,
        fetch_secret: Callable[[str, str], str] | None = None,
    ) -> None:
        if not url and not secret_id:
            raise ConfigurationError("no Slack webhook URL or secret configured")
        self._static = url
        self._secret_id = secret_id
        self._region = region
        self._fetch = fetch_secret or fetch_secret_string
        self._cached: str | None = None

    @property
    def from_secret(self) -> bool:
        return self._static is None

    def get(self) -> str:
        if self._static:
            return self._static
        if self._cached is None:
            assert self._secret_id is not None
            self._cached = webhook_url_from_secret(self._fetch(self._secret_id, self._region))
        return self._cached

    def invalidate(self) -> bool:
        """Forget a cached secret; ``True`` if there was one to re-read."""
        had = self._cached is not None
        self._cached = None
        return had and self.from_secret


def fetch_secret_string(secret_id: str, region: str) -> str:
    import boto3  # noqa: PLC0415 - provided by the Lambda runtime; only needed with a secret

    return boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=secret_id)[
        "SecretString"
    ]


def webhook_url_from_secret(secret: str) -> str:
    """A secret holds the URL itself or JSON with ``webhook_url`` (or ``url``)."""
    text = secret.strip()
    if text.startswith("{"):
        try:
            data: Any = json.loads(text)
        except ValueError:
            raise ConfigurationError("the Slack webhook secret is not valid JSON") from None
        text = str(data.get("webhook_url") or data.get("url") or "").strip()
    if not text.startswith(("https://", "http://")):
        raise ConfigurationError("the Slack webhook secret holds no http(s) URL")
    return text


@dataclasses.dataclass
class Delivery:
    attempts: int
    status: int


class SlackWebhook:
    """Posts one message with the retry policy; ``time_left`` is the invocation's remaining seconds."""

    def __init__(
        self,
        url: WebhookUrl,
        policy: RetryPolicy,
        *,
        transport: Transport = urllib_transport,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        log: Any = None,
    ) -> None:
        self.url = url
        self.policy = policy
        self.transport = transport
        self.sleep = sleep
        self.rand = rand
        self.log = log

    def post(self, message: Mapping[str, Any], time_left: Callable[[], float] | None = None) -> Delivery:
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        reread = False
        attempt = 0
        while True:
            attempt += 1
            status, error, wait_hint = self._attempt(body)
            if status is not None and 200 <= status < 300:
                return Delivery(attempts=attempt, status=status)
            retryable = status is None or status == 429 or status >= 500
            if not retryable and status in REREAD_URL_STATUSES and not reread and self.url.invalidate():
                reread = True  # a rotated secret: one more try with the URL read again
                continue
            if not retryable:
                raise SlackDeliveryError(error, attempts=attempt, retryable=False, status=status)
            delay = max(backoff_delay(attempt, self.policy, self.rand), wait_hint or 0.0)
            if attempt >= self.policy.max_attempts or not self._time_for(delay, time_left):
                raise SlackDeliveryError(
                    f"{error} (gave up after {attempt} attempt{'s' if attempt > 1 else ''})",
                    attempts=attempt,
                    retryable=True,
                    status=status,
                )
            self._warn(attempt, error, delay)
            self.sleep(delay)

    def _attempt(self, body: bytes) -> tuple[int | None, str, float | None]:
        """``(status or None, description, Retry-After seconds)`` of one request."""
        try:
            result = self.transport(self.url.get(), body, self.policy.timeout_s)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            return None, f"connection error: {exc}", None
        if 200 <= result.status < 300:
            return result.status, "ok", None
        headers = {k.lower(): v for k, v in result.headers.items()}
        hint = retry_after_seconds(headers.get("retry-after")) if result.status == 429 else None
        return result.status, f"HTTP {result.status}: {result.body[:200]}", hint

    def _time_for(self, delay: float, time_left: Callable[[], float] | None) -> bool:
        if delay > self.policy.max_delay_s:
            return False  # a Retry-After longer than we may wait: hand over to the outer retry
        if time_left is None:
            return True
        # The next request may take its full timeout; keep the margin for dead-lettering after it.
        return time_left() - delay - self.policy.timeout_s >= self.policy.min_time_left_s

    def _warn(self, attempt: int, error: str, delay: float) -> None:
        if self.log is not None:
            self.log.warning(
                "Slack webhook attempt failed; retrying",
                extra={"attempt": attempt, "error": error, "retry_in_s": round(delay, 3)},
            )
