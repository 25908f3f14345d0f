"""Post planned events to the ingest API at a fixed rate and account for every answer.

Open loop: batch ``i`` is due at ``start + i * batch_size / rate``, whatever earlier requests are
doing, up to ``max_in_flight`` concurrent requests (a slow API then lowers the achieved rate, and the
summary shows it). A throttled request (429) waits ``Retry-After`` and is sent again, as a well-behaved
client would; so is a 5xx or a connection error, with backoff. Those resends are counted as retries,
not as duplicates: a duplicate is an event the plan deliberately sends twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import httpx

from load_generator.plan import PlannedEvent

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_WAIT_S = 5.0


@dataclasses.dataclass(frozen=True)
class SendOptions:
    endpoint: str  # base URL, e.g. http://127.0.0.1:8090
    api_key: str
    rate: float  # events per second; 0 = as fast as max_in_flight allows
    batch_size: int = 50
    max_in_flight: int = 16
    timeout_s: float = 30.0
    max_attempts: int = 5

    @property
    def events_url(self) -> str:
        return self.endpoint.rstrip("/") + "/v1/events"


@dataclasses.dataclass
class SendStats:
    requests: int = 0
    attempts: int = 0
    retries: int = 0
    failed_requests: int = 0
    sent_events: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates_reported: int = 0
    status_counts: Counter = dataclasses.field(default_factory=Counter)
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    accepted_ids: set[str] = dataclasses.field(default_factory=set)
    elapsed_s: float = 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def batches(planned: Iterable[PlannedEvent], size: int) -> Iterator[list[PlannedEvent]]:
    batch: list[PlannedEvent] = []
    for item in planned:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def request_body(batch: Sequence[PlannedEvent]) -> bytes:
    """A single event is sent bare, a batch in the ``{"events": [...]}`` wrapper (both are the contract)."""
    payload: Any = batch[0].payload if len(batch) == 1 else {"events": [p.payload for p in batch]}
    return json.dumps(payload, separators=(",", ":")).encode()


class Sender:
    def __init__(self, options: SendOptions, client: httpx.AsyncClient) -> None:
        self.options = options
        self.client = client
        self.stats = SendStats()
        self.headers = {"content-type": "application/json", "x-api-key": options.api_key}

    async def run(self, planned: Iterable[PlannedEvent]) -> SendStats:
        started = time.perf_counter()
        interval = self.options.batch_size / self.options.rate if self.options.rate > 0 else 0.0
        gate = asyncio.Semaphore(self.options.max_in_flight)
        tasks: set[asyncio.Task] = set()
        for index, batch in enumerate(batches(planned, self.options.batch_size)):
            delay = started + index * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await gate.acquire()
            task = asyncio.create_task(self._send(batch))
            task.add_done_callback(lambda t: (gate.release(), tasks.discard(t)))
            tasks.add(task)
        if tasks:
            await asyncio.gather(*tasks)
        self.stats.elapsed_s = time.perf_counter() - started
        return self.stats

    async def _send(self, batch: list[PlannedEvent]) -> None:
        body = request_body(batch)
        self.stats.requests += 1
        self.stats.sent_events += len(batch)
        for attempt in range(1, self.options.max_attempts + 1):
            status, payload, retry_after = await self._attempt(body)
            if status not in RETRYABLE_STATUS and status != 0:
                self._account(batch, payload)
                return
            if attempt < self.options.max_attempts:
                self.stats.retries += 1
                await asyncio.sleep(min(MAX_RETRY_WAIT_S, retry_after or 0.1 * 2**attempt))
        self._account(batch, payload)
        self.stats.failed_requests += 1

    async def _attempt(self, body: bytes) -> tuple[int, dict[str, Any], float | None]:
        """One POST: (status or 0 for a transport error, decoded body, Retry-After seconds)."""
        self.stats.attempts += 1
        began = time.perf_counter()
        try:
            response = await self.client.post(
                self.options.events_url, content=body, headers=self.headers, timeout=self.options.timeout_s
            )
        except httpx.TransportError:
            self.stats.status_counts["transport_error"] += 1
            return 0, {}, None
        self.stats.latencies_ms.append((time.perf_counter() - began) * 1000)
        self.stats.status_counts[str(response.status_code)] += 1
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        retry_after = response.headers.get("retry-after")
        return response.status_code, payload, float(retry_after) if retry_after else None

    def _account(self, batch: list[PlannedEvent], payload: dict[str, Any]) -> None:
        results = payload.get("results") if isinstance(payload, dict) else None
        if not isinstance(results, list):
            self.stats.rejected += len(batch)
            return
        for result in results:
            outcome = result.get("status")
            if outcome == "accepted":
                self.stats.accepted += 1
                index = result.get("index")
                if isinstance(index, int) and 0 <= index < len(batch):
                    self.stats.accepted_ids.add(str(batch[index].event_id))
            elif outcome == "duplicate":
                self.stats.duplicates_reported += 1
            else:
                self.stats.rejected += 1
        self.stats.rejected += max(0, len(batch) - len(results))
