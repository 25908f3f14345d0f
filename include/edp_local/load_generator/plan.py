"""The send plan: interleaved sessions plus the faults real clients produce.

Fractions are per generated event, in expectation:

* ``late``: whole sessions synced from an offline queue, ``occurred_at`` 1-48 hours in the past
  (inside the contract's 30-day window, so still valid);
* ``out_of_order``: an event sent right after the next event of its session;
* ``invalid``: an event broken in one of :data:`INVALID_KINDS` (never on the stream);
* ``duplicate``: an extra send of an already-sent event (same ``event_id``), a little later,
  as a client retry after a lost response would.

``count=None`` plans without end (live demo traffic). Everything the plan keeps is bounded: the open
sessions, the pending retries, and the returning visitors (the last :data:`MAX_KNOWN_VISITORS`).
"""

from __future__ import annotations

import copy
import dataclasses
import heapq
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from edp.batch.seeds.catalog import Product
from edp_local.load_generator.simulation import Visitor, build_session, iso, new_visitor

INVALID_KINDS = ("missing_field", "bad_uuid", "unknown_type", "bad_timestamp")
REQUIRED_TOP_LEVEL = ("event_id", "occurred_at", "anonymous_id", "session_id", "device", "app", "properties")
UNKNOWN_TYPES = ("page_scroll", "video_play", "purchase_v2", "PageView")
LATE_HOURS = (1.0, 48.0)
RETRY_DELAY_EVENTS = (1, 40)  # a retry goes out this many sends after the original
RETURNING_VISITOR_SHARE = 0.3
# Returning visitors are drawn from the most recent ones only, so an endless plan keeps flat memory.
MAX_KNOWN_VISITORS = 5_000

Clock = Callable[[], datetime]


@dataclasses.dataclass(frozen=True)
class PlanOptions:
    count: int | None  # events to generate; None = no end
    duplicate_fraction: float = 0.0
    late_fraction: float = 0.0
    out_of_order_fraction: float = 0.0
    invalid_fraction: float = 0.0
    concurrent_sessions: int = 8

    def __post_init__(self) -> None:
        for name in ("duplicate_fraction", "late_fraction", "out_of_order_fraction", "invalid_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if (self.count is not None and self.count < 0) or self.concurrent_sessions < 1:
            raise ValueError("count must be >= 0 (or None for no end) and concurrent_sessions >= 1")


@dataclasses.dataclass
class PlannedEvent:
    """One send: the payload and what the plan did to it."""

    payload: dict[str, Any]
    valid: bool
    session_id: str
    invalid_kind: str | None = None
    late: bool = False
    out_of_order: bool = False
    duplicate: bool = False  # this send repeats an earlier one

    @property
    def event_id(self) -> Any:
        return self.payload.get("event_id")


def break_event(event: dict[str, Any], kind: str, rng: random.Random, now: datetime) -> dict[str, Any]:
    """A copy of a valid event made invalid in the given way."""
    broken = copy.deepcopy(event)
    if kind == "missing_field":
        field = rng.choice((*REQUIRED_TOP_LEVEL, "properties.*"))
        if field == "properties.*":
            del broken["properties"][next(iter(broken["properties"]))]
        else:
            del broken[field]
    elif kind == "bad_uuid":
        broken["event_id"] = rng.choice(("not-a-uuid", f"evt-{rng.getrandbits(48):012x}", "1234", ""))
    elif kind == "unknown_type":
        broken["event_type"] = rng.choice(UNKNOWN_TYPES)
    elif kind == "bad_timestamp":
        broken["occurred_at"] = rng.choice(
            (
                "yesterday",
                now.strftime("%Y-%m-%d %H:%M:%S"),  # no offset, space separator
                now.strftime("%Y-02-30T10:00:00Z"),  # no such day
                iso(now + timedelta(days=3)),  # beyond the allowed clock skew
                iso(now - timedelta(days=45)),  # older than the accepted lateness
            )
        )
    else:
        raise ValueError(f"unknown invalid kind {kind!r}; known: {INVALID_KINDS}")
    return broken


class EventPlan:
    """Iterates the planned sends; deterministic for a given seed and clock."""

    def __init__(
        self, options: PlanOptions, catalog: Sequence[Product], *, rng: random.Random, clock: Clock
    ) -> None:
        self.options = options
        self.catalog = catalog
        self.rng = rng
        self.clock = clock
        self.generated = 0
        self.sent = 0
        self._visitors: list[Visitor] = []
        self._new_visitors = 0
        self._active: list[list[PlannedEvent]] = []
        self._retries: list[tuple[int, int, PlannedEvent]] = []  # (due send index, tiebreak, event)

    def __iter__(self) -> Iterator[PlannedEvent]:
        while True:
            planned = self._next()
            if planned is None:
                return
            self.sent += 1
            yield planned

    @property
    def exhausted(self) -> bool:
        """Every event of a bounded plan is generated (retries may still be due)."""
        return self.options.count is not None and self.generated >= self.options.count

    def _next(self) -> PlannedEvent | None:
        if self._retries and (self._retries[0][0] <= self.sent or self.exhausted):
            return heapq.heappop(self._retries)[2]
        if self.exhausted:
            return None
        while len(self._active) < self.options.concurrent_sessions:
            self._active.append(self._new_session())
        session = self.rng.choice(self._active)
        planned = session.pop(0)
        if not session:
            self._active.remove(session)
        self.generated += 1
        if self.rng.random() < self.options.duplicate_fraction:
            due = self.sent + self.rng.randint(*RETRY_DELAY_EVENTS)
            retry = dataclasses.replace(planned, duplicate=True)
            heapq.heappush(self._retries, (due, self.generated, retry))
        return planned

    def _visitor(self) -> Visitor:
        if self._visitors and self.rng.random() < RETURNING_VISITOR_SHARE:
            return self.rng.choice(self._visitors)
        visitor = new_visitor(self.rng)
        if len(self._visitors) < MAX_KNOWN_VISITORS:
            self._visitors.append(visitor)
        else:  # ring buffer: the new visitor replaces the oldest known one
            self._visitors[self._new_visitors % MAX_KNOWN_VISITORS] = visitor
        self._new_visitors += 1
        return visitor

    def _new_session(self) -> list[PlannedEvent]:
        now = self.clock()
        late = self.rng.random() < self.options.late_fraction
        ends_at = now - timedelta(hours=self.rng.uniform(*LATE_HOURS)) if late else now
        events = build_session(self.rng, self.catalog, self._visitor(), ends_at)
        planned = [PlannedEvent(payload=e, valid=True, session_id=e["session_id"], late=late) for e in events]
        self._break_some(planned, now)
        self._reorder_some(planned)
        return planned

    def _break_some(self, planned: list[PlannedEvent], now: datetime) -> None:
        for item in planned:
            if self.rng.random() < self.options.invalid_fraction:
                kind = self.rng.choice(INVALID_KINDS)
                item.payload = break_event(item.payload, kind, self.rng, now)
                item.valid = False
                item.invalid_kind = kind

    def _reorder_some(self, planned: list[PlannedEvent]) -> None:
        """Swap chosen events with their successor; the last event has none, so others get its share."""
        if len(planned) < 2:
            return
        chance = min(1.0, self.options.out_of_order_fraction * len(planned) / (len(planned) - 1))
        index = 0
        while index < len(planned) - 1:
            if self.rng.random() < chance:
                planned[index].out_of_order = True
                planned[index], planned[index + 1] = planned[index + 1], planned[index]
                index += 2  # the moved event is not moved again
            else:
                index += 1
