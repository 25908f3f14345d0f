"""Kinesis PutRecords writer: chunked to the API limits, retrying only the entries that failed."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from edp.ingest.settings import RetryPolicy

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024  # data + partition keys of all records in one call
MAX_BYTES_PER_RECORD = 1024 * 1024  # data + partition key

THROTTLED = "ProvisionedThroughputExceededException"
# entry- or call-level errors worth another attempt; anything else (access denied, missing stream,
# KMS key disabled) will not heal within one request and goes straight to the quarantine
RETRYABLE = frozenset(
    {
        THROTTLED,
        "InternalFailure",
        "ServiceUnavailable",
        "ThrottlingException",
        "LimitExceededException",
        "KMSThrottlingException",
        "RequestTimeout",
    }
)


class StreamRecord(NamedTuple):
    """One record to write; ``index`` is the event's position in the request, ``size`` counts toward limits."""

    index: int
    data: bytes
    partition_key: str
    size: int

    @classmethod
    def of(cls, index: int, data: bytes, partition_key: str) -> StreamRecord:
        key_bytes = len(partition_key) if partition_key.isascii() else len(partition_key.encode())
        return cls(index, data, partition_key, len(data) + key_bytes)


@dataclasses.dataclass
class WriteResult:
    written: list[int] = dataclasses.field(default_factory=list)
    failed: dict[int, str] = dataclasses.field(default_factory=dict)  # index -> last error
    throttled_entries: int = 0  # entry failures with ProvisionedThroughputExceeded, over all attempts
    calls: int = 0

    @property
    def throttled(self) -> bool:
        return any(reason.startswith(THROTTLED) for reason in self.failed.values())


def chunks(records: Sequence[StreamRecord]) -> Iterator[list[StreamRecord]]:
    """Split into PutRecords calls of at most 500 records and 5 MiB, keeping order."""
    chunk: list[StreamRecord] = []
    size = 0
    for record in records:
        if chunk and (len(chunk) == MAX_RECORDS_PER_CALL or size + record.size > MAX_BYTES_PER_CALL):
            yield chunk
            chunk, size = [], 0
        chunk.append(record)
        size += record.size
    if chunk:
        yield chunk


def _call_error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or type(exc).__name__)
    # connection resets and timeouts carry no AWS error code but are transient
    transient = (
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
    )
    return "RequestTimeout" if type(exc).__name__ in transient else type(exc).__name__


class KinesisWriter:
    """Writes records with PutRecords and retries failed entries with backoff and full jitter."""

    def __init__(
        self,
        client: Any,
        stream_name: str,
        retry: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._stream = stream_name
        self._retry = retry
        self._sleep = sleep
        self._jitter = jitter

    def put(
        self, records: Sequence[StreamRecord], time_left: Callable[[], float] | None = None
    ) -> WriteResult:
        """Write every record; the result says which indexes were written and why others were not."""
        result = WriteResult()
        for chunk in chunks(records):
            self._put_chunk(chunk, result, time_left)
        return result

    def _put_chunk(
        self, chunk: list[StreamRecord], result: WriteResult, time_left: Callable[[], float] | None
    ) -> None:
        pending = chunk
        errors: dict[int, str] = {}
        attempts = 0
        while pending and attempts < self._retry.max_attempts:
            if attempts and time_left is not None and time_left() < self._retry.min_time_left_s:
                break
            if attempts:
                self._backoff(attempts)
            attempts += 1
            retry_next: list[StreamRecord] = []
            for record, error in self._attempt(pending, result):
                if error is None:
                    result.written.append(record.index)
                    errors.pop(record.index, None)
                else:
                    errors[record.index] = error
                    if error.split(":", 1)[0] in RETRYABLE:
                        retry_next.append(record)
            pending = retry_next
        for index, error in errors.items():
            result.failed[index] = f"{error} (gave up after {attempts} attempt(s))"

    def _attempt(
        self, pending: list[StreamRecord], result: WriteResult
    ) -> Iterator[tuple[StreamRecord, str | None]]:
        result.calls += 1
        try:
            response = self._client.put_records(
                StreamName=self._stream,
                Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in pending],
            )
        except Exception as exc:
            code = _call_error_code(exc)
            if code == THROTTLED:
                result.throttled_entries += len(pending)
            yield from ((record, f"{code}: {exc}"[:300]) for record in pending)
            return
        for record, entry in zip(pending, response["Records"], strict=True):
            code = entry.get("ErrorCode")
            if code == THROTTLED:
                result.throttled_entries += 1
            yield record, (f"{code}: {entry.get('ErrorMessage', '')}"[:300] if code else None)

    def _backoff(self, attempt: int) -> None:
        ceiling = min(self._retry.max_delay_s, self._retry.base_delay_s * 2 ** (attempt - 1))
        self._sleep(self._jitter() * ceiling)
