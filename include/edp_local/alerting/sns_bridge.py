"""The local SNS -> Lambda bridge: moto's SNS delivers alerts here over HTTP, and the very same
``sns_to_slack`` handler that runs on AWS is invoked with the Lambda SNS event built from each one.

What happens to a notification (``POST /sns``):

1. It is written to a spool directory (``<state dir>/alerting/spool/``) and acknowledged at once.
   moto delivers HTTP subscriptions synchronously inside its ``Publish`` call, while
   ``local_aws_server`` holds its one request lock (so Kinesis waits too): the bridge must answer
   fast and must never call back into moto while answering (that would deadlock).
2. A worker thread invokes the handler (loaded by ``edp_local.gateway.lambda_runtime``, like the ingest
   handler) with ``{"Records": [<SNS record>]}``, one invocation at a time, as one Lambda container.
3. Like Lambda's asynchronous invocation, a failed invocation is retried twice (after
   ``retry_delays``), then written to the on-failure destination (``<state dir>/slack/on_failure.jsonl``,
   in AWS's destination record format). The spool entry is removed only then, so a crash or restart
   of the bridge replays what it had not finished: at-least-once, as SNS is. The handler's dedup
   drops the repeats.

Also: the bridge subscribes itself to the alert topic at start and re-checks every
``resubscribe_s`` (moto keeps subscriptions in memory, so a restarted endpoint forgets them); it
invokes the handler with a scheduled event every ``tick_s`` (so storm summaries are posted, as an
EventBridge schedule does on AWS); ``POST /_control/redrive`` replays the handler's dead-letter file
and the on-failure file after an outage; ``GET /health`` and ``GET /stats`` report its state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from edp_local.alerting.locations import SNS_PATH

log = logging.getLogger("edp_local.alerting.sns_bridge")

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
ASYNC_RETRY_DELAYS_S = (1.0, 2.0)  # Lambda waits ~1 and ~2 minutes; locally seconds are enough


# ---- SNS HTTP(S) delivery -> Lambda SNS event ------------------------------------------------------
def lambda_sns_event(notification: Mapping[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The Lambda event SNS would send for this HTTP notification (field names as Lambda spells them)."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": NOTIFICATION,
                    "MessageId": notification.get("MessageId", ""),
                    "TopicArn": notification.get("TopicArn", ""),
                    "Subject": notification.get("Subject"),
                    "Message": notification.get("Message", ""),
                    "Timestamp": notification.get("Timestamp"),
                    "SignatureVersion": notification.get("SignatureVersion", "1"),
                    "Signature": notification.get("Signature", ""),
                    "SigningCertUrl": notification.get("SigningCertURL", ""),
                    "UnsubscribeUrl": notification.get("UnsubscribeURL", ""),
                    "MessageAttributes": dict(notification.get("MessageAttributes") or {}),
                },
            }
        ]
    }


def scheduled_event(now: datetime | None = None) -> dict[str, Any]:
    """An EventBridge scheduled event, as the AWS schedule of this function sends."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": (now or datetime.now(tz=UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [],
        "detail": {},
    }


def parse_http_notification(body: bytes) -> dict[str, Any]:
    """SNS posts JSON with ``Content-Type: text/plain``; anything else is a bad request."""
    value = json.loads(body.decode("utf-8"))
    if not isinstance(value, dict) or "Type" not in value:
        raise ValueError("not an SNS HTTP message")
    return value


# ---- spool -------------------------------------------------------------------------------------------
class Spool:
    """Received events on disk until handled: one JSON file each, named so that order is kept."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    def put(self, event: Mapping[str, Any], label: str = "") -> Path:
        safe = "".join(c for c in label if c.isalnum() or c in "-_")[:64]
        path = self.directory / f"{time.time_ns():020d}-{safe or uuid.uuid4().hex}.json"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(event, out)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
        return path

    def pending(self) -> list[Path]:
        return sorted(self.directory.glob("*.json"))

    @staticmethod
    def read(path: Path) -> dict[str, Any]:
        return json.loads(path.read_text(encoding="utf-8"))

    @staticmethod
    def done(path: Path) -> None:
        path.unlink(missing_ok=True)


# ---- the bridge ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class Job:
    event: dict[str, Any]
    spool_path: Path | None  # None: not durable (the scheduled tick)
    attempt: int = 1


@dataclasses.dataclass
class BridgeStats:
    received: int = 0
    invocations: int = 0
    errors: int = 0
    on_failure: int = 0
    last_error: str | None = None
    last_result: Any = None


class Bridge:
    """Spool, worker and subscription keeper around one loaded handler.

    :param invoke: calls the handler with an event (``LocalFunction.invoke``); raising = a failed invocation.
    :param subscribe: ensures the subscription and returns its ARN (raises while the topic is missing).
    """

    def __init__(
        self,
        invoke: Callable[[dict[str, Any]], Any],
        spool: Spool,
        on_failure_path: Path,
        subscribe: Callable[[], str],
        *,
        function_arn: str = "",
        retry_delays: Sequence[float] = ASYNC_RETRY_DELAYS_S,
        tick_s: float = 30.0,
        resubscribe_s: float = 15.0,
        redrive_sources: Sequence[Callable[[Callable[[list[dict[str, Any]]], None]], int]] = (),
    ) -> None:
        self.invoke = invoke
        self.spool = spool
        self.on_failure_path = on_failure_path
        self.subscribe_fn = subscribe
        self.function_arn = function_arn
        self.retry_delays = tuple(retry_delays)
        self.tick_s = tick_s
        self.resubscribe_s = resubscribe_s
        self.redrive_sources = tuple(redrive_sources)
        self.subscription_arn: str | None = None
        self.stats = BridgeStats()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._timers: set[threading.Timer] = set()
        self._idle = threading.Condition()
        self._busy = 0

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        for path in self.spool.pending():  # what an earlier run received but did not finish
            self._enqueue(Job(Spool.read(path), path))
        self.try_subscribe()
        for target, name in ((self._work, "bridge-worker"), (self._maintain, "bridge-maintenance")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for timer in list(self._timers):
            timer.cancel()
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=10)

    # ---- intake ----------------------------------------------------------------------------------
    def accept(self, notification: Mapping[str, Any]) -> str:
        """Spool one SNS notification and queue its invocation; returns quickly (see module doc)."""
        event = lambda_sns_event(notification, self.subscription_arn or "")
        path = self.spool.put(event, str(notification.get("MessageId", "")))
        self.stats.received += 1
        self._enqueue(Job(event, path))
        return path.name

    def tick(self) -> None:
        self._enqueue(Job(scheduled_event(), None))

    def redrive(self) -> int:
        """Replay the dead-letter and on-failure files through the handler; returns the events queued."""
        queued = 0

        def accept(events: list[dict[str, Any]]) -> None:
            nonlocal queued
            for event in events:
                path = self.spool.put(event, "redrive")
                self._enqueue(Job(event, path))
                queued += 1

        for source in self.redrive_sources:
            source(lambda entries: accept([_event_of(entry) for entry in entries]))
        return queued

    def _enqueue(self, job: Job) -> None:
        with self._idle:
            self._busy += 1
        self._queue.put(job)

    def wait_idle(self, timeout_s: float) -> bool:
        """Until nothing is queued, running or waiting for a retry (tests and ``/_control/drain``)."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # ---- work --------------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            job = self._queue.get()
            if job is None:
                return
            try:
                self._run(job)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def _run(self, job: Job) -> None:
        self.stats.invocations += 1
        try:
            self.stats.last_result = self.invoke(job.event)
        except Exception as exc:  # a failed invocation, as Lambda sees an unhandled error
            self.stats.errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("invocation %d failed: %s", job.attempt, self.stats.last_error)
            if job.spool_path is None:
                return  # a missed tick is made up by the next one
            if job.attempt <= len(self.retry_delays):
                self._retry_later(job, self.retry_delays[job.attempt - 1])
                return
            self._to_on_failure_destination(job, exc)
        if job.spool_path is not None:
            Spool.done(job.spool_path)

    def _retry_later(self, job: Job, delay: float) -> None:
        retry = dataclasses.replace(job, attempt=job.attempt + 1)
        with self._idle:
            self._busy += 1  # the waiting retry is work in progress until it is queued

        def fire() -> None:
            self._timers.discard(timer)
            if not self._stop.is_set():
                self._enqueue(retry)
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        self._timers.add(timer)
        timer.start()

    def _to_on_failure_destination(self, job: Job, exc: Exception) -> None:
        record = {
            "version": "1.0",
            "timestamp": datetime.now(tz=UTC).isoformat(),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{self.function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": job.attempt,
            },
            "requestPayload": job.event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorMessage": str(exc), "errorType": type(exc).__name__},
        }
        self.on_failure_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.on_failure_path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, sort_keys=True, default=str) + "\n")
            out.flush()
            os.fsync(out.fileno())
        self.stats.on_failure += 1
        log.error(
            "event sent to the on-failure destination %s after %d attempts", self.on_failure_path, job.attempt
        )

    # ---- subscription and schedule ------------------------------------------------------------------
    def try_subscribe(self) -> bool:
        try:
            arn = self.subscribe_fn()
        except Exception as exc:  # topic missing (endpoint restarting) or endpoint down: try again later
            if self.subscription_arn is not None:
                log.warning("lost the alert topic subscription: %s", exc)
            self.subscription_arn = None
            return False
        if arn != self.subscription_arn:
            log.info("subscribed to the alert topic: %s", arn)
        self.subscription_arn = arn
        return True

    def _maintain(self) -> None:
        next_tick = time.monotonic() + self.tick_s
        next_check = time.monotonic() + self.resubscribe_s
        while not self._stop.wait(0.5):
            now = time.monotonic()
            if now >= next_check:
                self.try_subscribe()
                next_check = now + self.resubscribe_s
            if now >= next_tick:
                self.tick()
                next_tick = now + self.tick_s

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "subscribed": self.subscription_arn is not None,
            "subscription_arn": self.subscription_arn,
            "pending": len(self.spool.pending()),
            **dataclasses.asdict(self.stats),
        }


def _event_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The event to replay from a dead-letter entry (``record``) or an on-failure record (``requestPayload``)."""
    if "requestPayload" in entry:
        return dict(entry["requestPayload"])
    return {"Records": [dict(entry["record"])]}


def drain_jsonl(path: Path) -> Callable[[Callable[[list[dict[str, Any]]], None]], int]:
    """A redrive source over a JSON Lines file (the on-failure destination)."""

    def drain(accept: Callable[[list[dict[str, Any]]], None]) -> int:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return 0
        entries = [json.loads(line) for line in lines if line.strip()]
        if entries:
            accept(entries)
            path.write_text("", encoding="utf-8")
        return len(entries)

    return drain


# ---- HTTP ----------------------------------------------------------------------------------------------
def create_app(bridge: Bridge, confirm: Callable[[str, str], None] | None = None) -> Starlette:
    """``POST /sns`` for SNS, ``GET /health``, ``GET /stats``, ``POST /_control/{redrive,tick,drain}``."""

    async def sns(request: Request) -> Response:
        try:
            message = parse_http_notification(await request.body())
        except ValueError as exc:
            return PlainTextResponse(f"bad request: {exc}", status_code=400)
        kind = message.get("Type")
        if kind == NOTIFICATION:
            return JSONResponse({"spooled": bridge.accept(message)})
        if kind == SUBSCRIPTION_CONFIRMATION and confirm is not None:
            # Confirm off the request: SNS may be waiting for this answer inside its own call.
            threading.Thread(
                target=confirm, args=(message["TopicArn"], message["Token"]), daemon=True
            ).start()
            return JSONResponse({"confirming": message["TopicArn"]})
        log.info("ignoring SNS %s message", kind)
        return JSONResponse({"ignored": kind})

    async def health(_: Request) -> Response:
        return JSONResponse(bridge.health())

    async def redrive(_: Request) -> Response:
        return JSONResponse({"queued": bridge.redrive()})

    async def tick(_: Request) -> Response:
        bridge.tick()
        return JSONResponse({"tick": "queued"})

    async def drain(request: Request) -> Response:
        import anyio  # noqa: PLC0415

        timeout = float(request.query_params.get("timeout", "30"))
        idle = await anyio.to_thread.run_sync(bridge.wait_idle, timeout)
        return JSONResponse({"idle": idle, **bridge.health()}, status_code=200 if idle else 504)

    return Starlette(
        routes=[
            Route(SNS_PATH, sns, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/stats", health, methods=["GET"]),
            Route("/_control/redrive", redrive, methods=["POST"]),
            Route("/_control/tick", tick, methods=["POST"]),
            Route("/_control/drain", drain, methods=["POST"]),
        ],
        lifespan=_lifespan(bridge),
    )


def _lifespan(bridge: Bridge) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        bridge.start()
        try:
            yield
        finally:
            bridge.stop()

    return lifespan
