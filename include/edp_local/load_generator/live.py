"""Endless mode (``python -m edp_local.load_generator --forever``): live traffic until SIGTERM or SIGINT.

The plan has no end and keeps the default fault mix, so duplicates, late sessions and invalid events
keep exercising the dedup and quarantine paths. Memory stays flat: no expected or accepted ids are
kept, latencies are summarised and dropped every interval, and the plan itself is bounded.

Every ``interval_s`` one JSON line goes to stdout, and the same object replaces the progress file
(if given; atomically), which is what the ``demo-traffic`` component's health check reads::

    {"event": "progress", "written_at": "2026-01-01T00:00:10.000Z", "state": "sending",
     "elapsed_s": 10.0, "sent": 200, "accepted": 196, "rejected": 2, "duplicates_reported": 0,
     "requests": 20, "failed_requests": 0, "retries": 0,
     "planned": {"generated": 198, "duplicates": 2, "late": 3, "out_of_order": 9, "invalid": 2},
     "window": {"seconds": 10.0, "sent": 200, "accepted": 196, "events_per_s": 20.0,
                "latency_ms": {"p50": 4.1, "p99": 9.8}},
     "http_status_counts": {"200": 20}, "endpoint": "...", "offered_rate_events_per_s": 20.0}

``state`` is ``failing`` when, over the last interval, requests failed (transport errors, 5xx, 429,
401/403) and no event was accepted; ``stopped`` on the last line, written when a signal ends the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx

from edp_local.load_generator.plan import PlanOptions
from edp_local.load_generator.runner import PlanTally, build_plan
from edp_local.load_generator.sender import Sender, SendOptions, SendStats, percentile, sleep_unless_stopped

# A live run forgets a backlog older than this (after an outage) instead of bursting to catch up.
LIVE_MAX_LAG_S = 5.0
FAILURE_STATUSES = frozenset({"transport_error", "401", "403", "429", "500", "502", "503", "504"})
STATES = ("sending", "failing", "stopped")


@dataclasses.dataclass(frozen=True)
class ProgressOptions:
    interval_s: float = 10.0
    path: Path | None = None  # rewritten with the latest progress object every interval

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {self.interval_s}")


@dataclasses.dataclass(frozen=True)
class _Counts:
    """Cumulative counters at one report, to turn the next report's totals into a window."""

    at: float
    sent: int
    accepted: int
    answered: int  # accepted or reported as duplicates
    attempts: int
    failures: int

    @classmethod
    def of(cls, stats: SendStats, at: float) -> _Counts:
        return cls(
            at=at,
            sent=stats.sent_events,
            accepted=stats.accepted,
            answered=stats.accepted + stats.duplicates_reported,
            attempts=stats.attempts,
            failures=sum(stats.status_counts[status] for status in FAILURE_STATUSES),
        )


def _iso_now(clock: float) -> str:
    moment = datetime.fromtimestamp(clock, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ProgressReporter:
    """Turns the running totals into progress objects: one JSON line each, and the progress file."""

    def __init__(
        self,
        tally: PlanTally,
        stats: SendStats,
        send_options: SendOptions,
        options: ProgressOptions,
        out: TextIO,
    ) -> None:
        self.tally = tally
        self.stats = stats
        self.send_options = send_options
        self.options = options
        self.out = out
        self.started = time.monotonic()
        self._last = _Counts.of(stats, self.started)

    def report(self, *, final: bool = False) -> dict[str, Any]:
        """Write one progress object (the window is everything since the previous one) and return it."""
        now = _Counts.of(self.stats, time.monotonic())
        latencies, self.stats.latencies_ms = self.stats.latencies_ms, []
        window_s = max(now.at - self._last.at, 1e-9)
        failing = (
            now.attempts > self._last.attempts
            and now.answered == self._last.answered
            and now.failures > self._last.failures
        )
        document = {
            "event": "final" if final else "progress",
            "written_at": _iso_now(time.time()),
            "state": "stopped" if final else ("failing" if failing else "sending"),
            "elapsed_s": round(now.at - self.started, 3),
            **self._totals(),
            "window": {
                "seconds": round(window_s, 3),
                "sent": now.sent - self._last.sent,
                "accepted": now.accepted - self._last.accepted,
                "events_per_s": round((now.sent - self._last.sent) / window_s, 1),
                "latency_ms": {
                    "p50": round(percentile(latencies, 50), 2),
                    "p99": round(percentile(latencies, 99), 2),
                },
            },
            "http_status_counts": dict(sorted(self.stats.status_counts.items())),
            "endpoint": self.send_options.events_url,
            "offered_rate_events_per_s": self.send_options.rate,
        }
        self._last = now
        self.out.write(json.dumps(document, separators=(",", ":")) + "\n")
        self.out.flush()
        if self.options.path is not None:
            write_atomically(self.options.path, json.dumps(document, indent=2))
        return document

    def _totals(self) -> dict[str, Any]:
        stats, tally = self.stats, self.tally
        return {
            "sent": stats.sent_events,
            "accepted": stats.accepted,
            "rejected": stats.rejected,
            "duplicates_reported": stats.duplicates_reported,
            "requests": stats.requests,
            "failed_requests": stats.failed_requests,
            "retries": stats.retries,
            "planned": {
                "generated": tally.generated,
                "duplicates": tally.duplicates,
                "late": tally.late,
                "out_of_order": tally.out_of_order,
                "invalid": tally.invalid_total,
            },
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Report every interval until ``stop`` is set."""
        while not await sleep_unless_stopped(stop, self.options.interval_s):
            self.report()


def write_atomically(path: Path, text: str) -> None:
    """Readers (the health check) never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


async def send_forever(
    plan_options: PlanOptions,
    send_options: SendOptions,
    progress: ProgressOptions,
    *,
    seed: int | None,
    stop: asyncio.Event,
    out: TextIO = sys.stdout,
) -> dict[str, Any]:
    """Send the endless plan until ``stop`` is set; return the final progress object.

    ``plan_options.count`` is ignored (the plan has no end); ids are never tracked, and a
    ``send_options.max_lag_s`` of None becomes :data:`LIVE_MAX_LAG_S`.
    """
    plan = build_plan(dataclasses.replace(plan_options, count=None), seed)
    tally = PlanTally(track_ids=False)
    options = dataclasses.replace(
        send_options, track_ids=False, max_lag_s=send_options.max_lag_s or LIVE_MAX_LAG_S
    )
    limits = httpx.Limits(
        max_connections=options.max_in_flight, max_keepalive_connections=options.max_in_flight
    )
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        sender = Sender(options, client)
        reporter = ProgressReporter(tally, sender.stats, options, progress, out)
        ticker = asyncio.create_task(reporter.run(stop))
        try:
            await sender.run(tally.watch(iter(plan)), stop=stop)
        finally:
            stop.set()
            await ticker
        return reporter.report(final=True)


def run_forever(
    plan_options: PlanOptions,
    send_options: SendOptions,
    progress: ProgressOptions,
    *,
    seed: int | None,
    out: TextIO = sys.stdout,
    stop_signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
) -> dict[str, Any]:
    """:func:`send_forever` until one of ``stop_signals`` arrives; return the final progress object."""

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in stop_signals:
            loop.add_signal_handler(sig, stop.set)
        try:
            return await send_forever(plan_options, send_options, progress, seed=seed, stop=stop, out=out)
        finally:
            for sig in stop_signals:
                loop.remove_signal_handler(sig)

    return asyncio.run(main())
