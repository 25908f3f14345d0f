"""Post planned events to the ingest API at a fixed rate and account for every answer.

Open loop: batch ``i`` is due at ``start + i * batch_size / rate``, whatever earlier requests are
doing, up to ``max_in_flight`` concurrent requests (a slow API then lowers the achieved rate, and the
summary shows it). A throttled request (429) waits ``Retry-After`` and is sent again, as a well-behaved
client would; so is a 5xx or a connection error, with backoff. Those resends are counted as retries,
not as duplicates: a duplicate is an event the plan deliberately sends twice.

An endless run (``run(..., stop=event)``) ends when ``stop`` is set: no new batch goes out, requests
in flight get ``drain_s`` to finish and are then cancelled. With ``max_lag_s`` the schedule forgets a
backlog older than that (after the API was down, say) instead of bursting to catch up; and with
``track_ids=False`` no accepted event id is kept, so memory stays flat however long it runs.
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

from edp_local.load_generator.plan import PlannedEvent

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
    track_ids: bool = True  # keep every accepted event id (bounded runs check them against the stream)
    max_lag_s: float | None = None  # None: catch up on any backlog, so the achieved rate is honest
    drain_s: float = 5.0  # after a stop, how long requests in flight may still take

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


async def sleep_unless_stopped(stop: asyncio.Event | None, seconds: float) -> bool:
    """Sleep ``seconds``, waking early when ``stop`` is set; whether it was."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def acquire_unless_stopped(gate: asyncio.Semaphore, stop: asyncio.Event | None) -> bool:
    """Take a slot of ``gate``, unless ``stop`` is set first (a hung API holds every slot); whether taken."""
    if stop is None:
        await gate.acquire()
        return True
    acquire = asyncio.ensure_future(gate.acquire())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({acquire, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if acquire.done():
        return True
    acquire.cancel()
    return False


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

    async def run(self, planned: Iterable[PlannedEvent], stop: asyncio.Event | None = None) -> SendStats:
        """Send every planned event on schedule, or until ``stop`` is set; return the stats."""
        started = time.perf_counter()
        interval = self.options.batch_size / self.options.rate if self.options.rate > 0 else 0.0
        gate = asyncio.Semaphore(self.options.max_in_flight)
        tasks: set[asyncio.Task] = set()
        for index, batch in enumerate(batches(planned, self.options.batch_size)):
            delay = started + index * interval - time.perf_counter()
            lag_bound = self.options.max_lag_s
            if lag_bound is not None and -delay > lag_bound:
                started -= delay  # forget the backlog: this batch goes now, the next one interval later
            elif delay > 0 and await sleep_unless_stopped(stop, delay):
                break
            if stop is not None and stop.is_set():
                break
            if not await acquire_unless_stopped(gate, stop):
                break
            task = asyncio.create_task(self._send(batch))
            task.add_done_callback(lambda t: (gate.release(), tasks.discard(t)))
            tasks.add(task)
        await self._finish(tasks, stopping=stop is not None and stop.is_set())
        self.stats.elapsed_s = time.perf_counter() - started
        return self.stats

    async def _finish(self, tasks: set[asyncio.Task], *, stopping: bool) -> None:
        """Wait for the requests in flight; when stopping, only ``drain_s`` long, then cancel the rest."""
        if not tasks:
            return
        if not stopping:
            await asyncio.gather(*tasks)
            return
        _, pending = await asyncio.wait(set(tasks), timeout=self.options.drain_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

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
                if self.options.track_ids and isinstance(index, int) and 0 <= index < len(batch):
                    self.stats.accepted_ids.add(str(batch[index].event_id))
            elif outcome == "duplicate":
                self.stats.duplicates_reported += 1
            else:
                self.stats.rejected += 1
        self.stats.rejected += max(0, len(batch) - len(results))
