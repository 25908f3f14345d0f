"""The ingest pipeline for one HTTP request: route, authenticate, decode, validate, enrich, write, quarantine.

Framework-free and injectable (Kinesis client, quarantine sink, clock, sleep), so the Lambda handler
stays a thin adapter and the same code runs behind API Gateway and the local gateway.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from edp.contract import (
    CONTRACT_VERSION,
    MAX_BODY_BYTES,
    MAX_EVENT_BYTES,
    may_hold_control_characters,
    normalize_event,
    replace_control_characters,
    validate_event,
)
from edp.ingest.body import RequestError, check_content_type, decode_events
from edp.ingest.enrich import format_received_at, hash_ip, parse_user_agent
from edp.ingest.http import HttpRequest, HttpResponse
from edp.ingest.kinesis import KinesisWriter, StreamRecord, WriteResult
from edp.ingest.quarantine import QuarantineSink, quarantine_key, quarantine_sink_for
from edp.ingest.quarantine_record import quarantine_line
from edp.ingest.settings import IngestSettings

ROUTE = "/v1/events"
HEALTH_ROUTE = "/v1/health"
# every path of the API and its methods; the OpenAPI spec declares exactly these (a unit test checks)
ROUTES: dict[str, tuple[str, ...]] = {ROUTE: ("POST",), HEALTH_ROUTE: ("GET",)}
HEALTH_BODY = {"status": "ok", "service": "edp-ingest"}
API_VERSION = "v1"
RETRY_AFTER_S = "1"
_MAX_ECHOED_ID = 64


@dataclasses.dataclass
class Batch:
    """Per-event outcome of one request, filled in as the pipeline advances."""

    received_at: str
    request_id: str
    source_app: str
    raw_events: list[Any]
    results: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    records: list[StreamRecord] = dataclasses.field(default_factory=list)
    quarantine: list[bytes] = dataclasses.field(default_factory=list)

    def reject(self, index: int, stage: str, reason: str) -> None:
        result = self.results[index]
        result.update(status="rejected", reason=reason, quarantined=True)
        fields = {
            "request_id": self.request_id,
            "received_at": self.received_at,
            "source_app": self.source_app,
            "index": index,
            "stage": stage,
            "reason": reason,
        }
        self.quarantine.append(quarantine_line(fields, self.raw_events[index]))

    def counts(self) -> dict[str, int]:
        counts = {"accepted": 0, "rejected": 0, "duplicate": 0}
        for result in self.results:
            counts[result["status"]] += 1
        return counts


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What the handler needs: the HTTP response plus figures for metrics and logs."""

    response: HttpResponse
    source_app: str | None
    counts: dict[str, int]
    quarantined: int = 0
    throttled_entries: int = 0
    quarantine_location: str | None = None


def _echo_id(event: Any) -> str | None:
    event_id = event.get("event_id") if isinstance(event, dict) else None
    return event_id if isinstance(event_id, str) and len(event_id) <= _MAX_ECHOED_ID else None


def _partition_key(event: dict[str, Any]) -> str:
    return event.get("user_id") or event.get("anonymous_id") or event["session_id"]


class IngestService:
    """One per container: holds settings, the lazily created Kinesis client and the quarantine sink."""

    def __init__(
        self,
        settings: IngestSettings,
        *,
        kinesis_client: Any = None,
        quarantine: QuarantineSink | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        logger: Any = None,
    ) -> None:
        self.settings = settings
        self._kinesis_client = kinesis_client
        self.quarantine = quarantine or quarantine_sink_for(settings.quarantine_root, settings.region)
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._log = logger or logging.getLogger(__name__)

    @property
    def kinesis_client(self) -> Any:
        if self._kinesis_client is None:
            import boto3  # noqa: PLC0415 - once per container, on the first request, not at import
            from botocore.config import Config  # noqa: PLC0415

            self._kinesis_client = boto3.client(
                "kinesis",
                region_name=self.settings.region,
                endpoint_url=self.settings.endpoint_url,
                # one attempt per call: KinesisWriter owns retries, per failed entry, with jitter;
                # no client-side parameter validation: we build the params, and it costs ~25% of the call
                config=Config(
                    retries={"total_max_attempts": 1},
                    connect_timeout=2,
                    read_timeout=5,
                    parameter_validation=False,
                ),
            )
        return self._kinesis_client

    def handle(self, request: HttpRequest, time_left: Callable[[], float] | None = None) -> Outcome:
        """Process one request; bad input yields a 4xx outcome. Only a failing quarantine raises."""
        received = self._clock()
        source_app: str | None = None
        try:
            _check_route(request)
            if request.path.rstrip("/") == HEALTH_ROUTE:
                return Outcome(HttpResponse(200, HEALTH_BODY, {"x-request-id": request.request_id}), None, {})
            source_app = self._authenticate(request)
            raw_events = _decode(request)
        except RequestError as error:
            self._log.warning("request rejected", extra={"status": error.status, "code": error.code})
            return Outcome(_error_response(error, request.request_id), source_app, {})
        batch = Batch(format_received_at(received), request.request_id, source_app, raw_events)
        self._classify(batch, received, self._meta_bytes(batch, request))
        write = self._write(batch, time_left)
        location = self._quarantine(batch, received)
        counts = batch.counts()
        return Outcome(
            response=_batch_response(batch, counts, write),
            source_app=source_app,
            counts=counts,
            quarantined=len(batch.quarantine),
            throttled_entries=write.throttled_entries,
            quarantine_location=location,
        )

    def _authenticate(self, request: HttpRequest) -> str:
        if request.authorizer_app:  # API Gateway already authenticated the caller
            return request.authorizer_app[:64]
        api_key = request.header("x-api-key")
        if not api_key:
            raise RequestError(401, "missing_api_key", "the x-api-key header is required")
        if app := self.settings.app_for_key(api_key):
            return app[:64]
        if request.api_key_id:  # validated by an API Gateway usage plan but not mapped to an app name
            return f"apikey-{request.api_key_id}"[:64]
        raise RequestError(403, "invalid_api_key", "the API key is not valid")

    def _meta_bytes(self, batch: Batch, request: HttpRequest) -> bytes:
        meta = {
            "received_at": batch.received_at,
            "request_id": batch.request_id[:128],
            "source_app": batch.source_app,
            "client_ip_hash": hash_ip(request.source_ip, self.settings.ip_salt),
            "user_agent": parse_user_agent(request.header("user-agent")),
            "api_version": API_VERSION,
            "contract_version": CONTRACT_VERSION,
        }
        return orjson.dumps(meta)

    def _classify(self, batch: Batch, received: datetime, meta: bytes) -> None:
        """Validate each event; valid, first-seen ids become stream records, the rest are rejected."""
        first_seen: dict[str, int] = {}
        meta_suffix = b',"meta":' + meta + b"}"
        for index, event in enumerate(batch.raw_events):
            try:
                self._classify_one(batch, index, event, received, first_seen, meta_suffix)
            except Exception as exc:  # one poisonous event must not cost the batch its valid events
                # where it failed, not the message: an exception's text can quote the event (PII)
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                self._log.error(
                    "event could not be processed",
                    extra={
                        "index": index,
                        "error": type(exc).__name__,
                        "at": f"{frame.filename}:{frame.lineno}",
                    },
                )
                if len(batch.results) == index:
                    batch.results.append({"index": index, "event_id": _echo_id(event), "status": "rejected"})
                if batch.records and batch.records[-1].index == index:
                    batch.records.pop()
                batch.reject(index, "validation", f"event: could not be processed ({type(exc).__name__})")

    @staticmethod
    def _classify_one(
        batch: Batch,
        index: int,
        event: Any,
        received: datetime,
        first_seen: dict[str, int],
        meta_suffix: bytes,
    ) -> None:
        errors = validate_event(event, received_at=received)
        if errors:
            batch.results.append({"index": index, "event_id": _echo_id(event), "status": "rejected"})
            batch.reject(index, "validation", "; ".join(errors))
            return
        event_id = event["event_id"]
        result: dict[str, Any] = {"index": index, "event_id": event_id, "status": "accepted"}
        batch.results.append(result)
        event_key = event_id.lower()
        if (first := first_seen.get(event_key)) is not None:
            result.update(status="duplicate", reason=f"same event_id as index {first}; accepted once")
            return
        data = orjson.dumps(normalize_event(event))
        if may_hold_control_characters(data):  # rare: free text with NUL, U+2028, ...
            data = orjson.dumps(replace_control_characters(event))
        if len(data) > MAX_EVENT_BYTES:
            batch.reject(index, "validation", f"event: {len(data)} bytes; at most {MAX_EVENT_BYTES}")
            return
        first_seen[event_key] = index
        record = b"".join((b'{"event":', data, meta_suffix))
        key = _partition_key(event)  # printable ASCII by the contract: len() is its byte size
        batch.records.append(StreamRecord(index, record, key, len(record) + len(key)))

    def _write(self, batch: Batch, time_left: Callable[[], float] | None) -> WriteResult:
        if not batch.records:
            return WriteResult()
        writer = KinesisWriter(
            self.kinesis_client,
            self.settings.stream_name,
            self.settings.retry,
            sleep=self._sleep,
            jitter=self._jitter,
        )
        write = writer.put(batch.records, time_left)
        for index, reason in write.failed.items():
            batch.reject(index, "stream", f"stream: {reason}")
        if write.failed:
            self._log.error("events not written to the stream", extra={"failed": len(write.failed)})
        return write

    def _quarantine(self, batch: Batch, received: datetime) -> str | None:
        """Store rejected and unwritten events; a failure here propagates (a 5xx) rather than lose them."""
        if not batch.quarantine:
            return None
        key = quarantine_key(received.strftime("%Y-%m-%d"), batch.request_id)
        return self.quarantine.write(key, batch.quarantine)


def _check_route(request: HttpRequest) -> None:
    path = request.path.rstrip("/")
    methods = ROUTES.get(path)
    if methods is None:
        raise RequestError(404, "not_found", f"no route {request.path[:100]!r}; events go to POST {ROUTE}")
    if request.method not in methods:
        allow = ", ".join(methods)
        raise RequestError(
            405, "method_not_allowed", f"{path} accepts {allow} only", headers={"Allow": allow}
        )


def _decode(request: HttpRequest) -> list[Any]:
    check_content_type(request.header("content-type"))
    if request.body_error == "too_large":
        raise RequestError(413, "body_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
    if request.body_error:
        raise RequestError(400, "undecodable_body", "body could not be decoded")
    return decode_events(request.body)


def _error_response(error: RequestError, request_id: str) -> HttpResponse:
    body = {
        "accepted": 0,
        "rejected": 0,
        "duplicates": 0,
        "request_id": request_id,
        "results": [],
        "error": {"code": error.code, "message": error.message},
    }
    return HttpResponse(error.status, body, {"x-request-id": request_id, **error.headers})


def _status(counts: dict[str, int], write: WriteResult) -> tuple[int, dict[str, str] | None]:
    """HTTP status and the request-level error, from per-event outcomes."""
    if not counts["rejected"]:
        return 200, None
    if counts["accepted"]:
        return 207, None
    if write.failed and write.throttled:
        return 429, {
            "code": "stream_throttled",
            "message": "the stream is throttled; events were quarantined",
        }
    if write.failed:
        return 503, {"code": "stream_unavailable", "message": "the stream failed; events were quarantined"}
    return 400, {"code": "no_valid_events", "message": "no event in the request is valid"}


def _batch_response(batch: Batch, counts: dict[str, int], write: WriteResult) -> HttpResponse:
    status, error = _status(counts, write)
    body: dict[str, Any] = {
        "accepted": counts["accepted"],
        "rejected": counts["rejected"],
        "duplicates": counts["duplicate"],
        "request_id": batch.request_id,
        "results": batch.results,
    }
    headers = {"x-request-id": batch.request_id}
    if error:
        body["error"] = error
    if status in (429, 503):
        headers["Retry-After"] = RETRY_AFTER_S
    return HttpResponse(status, body, headers)
