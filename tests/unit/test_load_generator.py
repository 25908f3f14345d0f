"""The load generator's plan: contract-valid sessions and funnels, and the faults it injects on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import edp.contract as event_contract
from edp.batch.seeds.catalog import load_catalog
from edp_local.load_generator import plan as plan_module
from edp_local.load_generator.__main__ import parse_args
from edp_local.load_generator.live import ProgressOptions, ProgressReporter, send_forever
from edp_local.load_generator.plan import (
    INVALID_KINDS,
    RETRY_DELAY_EVENTS,
    EventPlan,
    PlannedEvent,
    PlanOptions,
    break_event,
)
from edp_local.load_generator.runner import PlanTally
from edp_local.load_generator.sender import Sender, SendOptions, SendStats, batches, percentile, request_body

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
VIEW_TYPES = {"page_view", "screen_view"}


def plan(count: int, seed: int = 7, **fractions: float) -> list[PlannedEvent]:
    options = PlanOptions(count=count, **fractions)
    return list(EventPlan(options, load_catalog(), rng=random.Random(seed), clock=lambda: NOW))


def originals(items: list[PlannedEvent]) -> list[PlannedEvent]:
    return [item for item in items if not item.duplicate]


def by_session(items: list[PlannedEvent]) -> dict[str, list[PlannedEvent]]:
    sessions: dict[str, list[PlannedEvent]] = defaultdict(list)
    for item in items:
        sessions[item.session_id].append(item)
    return sessions


@pytest.fixture(scope="module")
def faulty() -> list[PlannedEvent]:
    """A large plan with every fault at 5 %: enough events for the fractions to show."""
    return plan(
        20_000,
        duplicate_fraction=0.05,
        late_fraction=0.05,
        out_of_order_fraction=0.05,
        invalid_fraction=0.05,
    )


def test_the_catalog_has_unique_products_with_positive_prices() -> None:
    catalog = load_catalog()

    assert len(catalog) >= 20
    assert len({p.product_id for p in catalog}) == len(catalog)
    assert all(p.unit_price > 0 and p.currency == "USD" for p in catalog)


def test_every_valid_event_passes_the_contract_validator_and_every_invalid_one_fails(
    faulty: list[PlannedEvent],
) -> None:
    verdicts = [
        (item, event_contract.validate_event(item.payload, received_at=NOW)) for item in originals(faulty)
    ]

    assert all(errors is None for item, errors in verdicts if item.valid)
    assert all(errors for item, errors in verdicts if not item.valid)
    assert {item.invalid_kind for item, _ in verdicts if not item.valid} == set(INVALID_KINDS)


def test_a_clean_plan_covers_every_event_type_and_platform() -> None:
    items = plan(5_000)

    assert all(item.valid and not item.late and not item.out_of_order for item in items)
    assert {item.payload["event_type"] for item in items} == set(event_contract.EVENT_TYPES)
    assert {item.payload["device"]["platform"] for item in items} == {"web", "ios", "android"}
    assert len(items) == 5_000


def test_views_match_the_platform_web_pages_and_mobile_screens() -> None:
    for item in plan(2_000):
        platform, event_type = item.payload["device"]["platform"], item.payload["event_type"]
        if event_type in VIEW_TYPES:
            assert event_type == ("page_view" if platform == "web" else "screen_view")


@pytest.mark.parametrize(
    ("attribute", "tolerance"),
    [("duplicate", 0.01), ("late", 0.02), ("out_of_order", 0.01), ("invalid", 0.01)],
)
def test_fault_fractions_are_roughly_honoured(
    faulty: list[PlannedEvent], attribute: str, tolerance: float
) -> None:
    generated = originals(faulty)
    if attribute == "duplicate":
        share = (len(faulty) - len(generated)) / len(generated)
    elif attribute == "invalid":
        share = sum(not item.valid for item in generated) / len(generated)
    else:
        share = sum(getattr(item, attribute) for item in generated) / len(generated)

    assert len(generated) == 20_000
    assert share == pytest.approx(0.05, abs=tolerance)


def test_the_same_seed_gives_the_same_plan_and_another_seed_does_not() -> None:
    first = [item.payload for item in plan(500, seed=3, duplicate_fraction=0.1, invalid_fraction=0.1)]
    again = [item.payload for item in plan(500, seed=3, duplicate_fraction=0.1, invalid_fraction=0.1)]
    other = [item.payload for item in plan(500, seed=4, duplicate_fraction=0.1, invalid_fraction=0.1)]

    assert first == again
    assert first != other


def test_duplicates_resend_an_earlier_event_unchanged(faulty: list[PlannedEvent]) -> None:
    first_position: dict[str, int] = {}
    for position, item in enumerate(faulty):
        key = json.dumps(item.payload, sort_keys=True)
        if item.duplicate:
            assert key in first_position and first_position[key] < position
        else:
            first_position.setdefault(key, position)


def test_late_sessions_are_hours_old_but_inside_the_contract_window(faulty: list[PlannedEvent]) -> None:
    late = [item for item in originals(faulty) if item.late and item.valid]
    ages = [NOW - datetime.fromisoformat(item.payload["occurred_at"]) for item in late]

    assert late
    assert all(timedelta(minutes=59) < age < timedelta(hours=49) for age in ages)
    assert max(ages) < event_contract.MAX_EVENT_AGE


def test_without_reordering_each_session_is_sent_in_occurrence_order() -> None:
    for events in by_session(plan(3_000)).values():
        times = [item.payload["occurred_at"] for item in events]
        assert times == sorted(times)


def test_an_out_of_order_event_is_sent_right_after_a_later_event_of_its_session(
    faulty: list[PlannedEvent],
) -> None:
    checked = 0
    for events in by_session(originals(faulty)).values():
        for position, item in enumerate(events):
            partner = events[position - 1] if position else None
            if item.out_of_order and item.valid and partner is not None and partner.valid:
                assert partner.payload["occurred_at"] > item.payload["occurred_at"]
                checked += 1
    assert checked > 500


def last_action_before(ordered: list[dict], position: int) -> dict:
    """The closest earlier event that is not an app_error (errors can interleave with any step)."""
    return next(e for e in reversed(ordered[:position]) if e["event_type"] != "app_error")


def test_funnels_run_view_then_click_then_add_to_cart_then_purchase() -> None:
    purchases = 0
    for events in by_session(plan(6_000)).values():
        ordered = sorted((item.payload for item in events), key=lambda payload: payload["occurred_at"])
        assert ordered[0]["event_type"] in VIEW_TYPES
        for position, event in enumerate(ordered):
            clicks = [e["properties"]["element_id"] for e in ordered[:position] if e["event_type"] == "click"]
            if event["event_type"] == "add_to_cart":
                product = event["properties"]["product_id"]
                assert (
                    last_action_before(ordered, position)["properties"]["element_id"]
                    == f"add-to-cart-{product}"
                )
                assert f"product-card-{product}" in clicks
            if event["event_type"] == "purchase":
                purchases += 1
                carted = {
                    e["properties"]["product_id"]
                    for e in ordered[:position]
                    if e["event_type"] == "add_to_cart"
                }
                assert {line["product_id"] for line in event["properties"]["items"]} == carted
                assert clicks[-1] == "place-order"
    assert purchases > 20


def test_purchases_price_items_from_the_catalog() -> None:
    prices = {p.product_id: p.price for p in load_catalog()}
    purchases = [item.payload for item in plan(6_000) if item.payload["event_type"] == "purchase"]

    assert purchases
    for purchase in purchases:
        lines = purchase["properties"]["items"]
        assert all(line["price"] == prices[line["product_id"]] for line in lines)


@pytest.mark.parametrize("kind", INVALID_KINDS)
def test_each_invalid_kind_breaks_a_valid_event(kind: str) -> None:
    valid = next(item.payload for item in plan(50) if item.payload["event_type"] == "click")
    rng = random.Random(11)

    for _ in range(20):  # every variant the kind picks from
        assert event_contract.validate_event(break_event(valid, kind, rng, NOW), received_at=NOW)
    assert event_contract.validate_event(valid, received_at=NOW) is None


def test_fractions_outside_zero_to_one_are_refused() -> None:
    with pytest.raises(ValueError, match="late_fraction"):
        PlanOptions(count=1, late_fraction=1.5)


# ---- sending --------------------------------------------------------------------------------------


def test_one_event_is_sent_bare_and_several_in_the_batch_wrapper() -> None:
    items = plan(3)

    assert json.loads(request_body(items[:1])) == items[0].payload
    assert json.loads(request_body(items)) == {"events": [item.payload for item in items]}
    assert [len(b) for b in batches(iter(items), 2)] == [2, 1]


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]

    assert (percentile(values, 50), percentile(values, 99), percentile([], 50)) == (50.0, 99.0, 0.0)


def test_per_event_results_are_accounted_by_index() -> None:
    items = plan(3)
    sender = Sender(SendOptions(endpoint="http://unused", api_key="k", rate=0), client=None)
    results = [
        {"index": 0, "status": "accepted"},
        {"index": 1, "status": "rejected", "reason": "bad"},
        {"index": 2, "status": "duplicate"},
    ]

    sender._account(items, {"results": results})
    sender._account(items, {"error": {"code": "no_valid_events"}})

    stats: SendStats = sender.stats
    assert (stats.accepted, stats.rejected, stats.duplicates_reported) == (1, 1 + 3, 1)
    assert stats.accepted_ids == {items[0].event_id}


# ---- endless mode ---------------------------------------------------------------------------------


class IngestApiHandler(BaseHTTPRequestHandler):
    """The ingest API's answer shape: per-event results by index; ``server.down`` answers 503.

    ``server.hang_s`` delays every answer, as an API that stopped responding would.
    """

    def do_POST(self) -> None:
        server: IngestServer = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        events = body["events"] if isinstance(body, dict) and "events" in body else [body]
        if server.down:
            self._answer(503, {"error": {"code": "unavailable"}})
            return
        time.sleep(server.hang_s)
        results = []
        for index, event in enumerate(events):
            valid = event_contract.validate_event(event, received_at=datetime.now(tz=UTC)) is None
            results.append({"index": index, "status": "accepted" if valid else "rejected"})
        with server.lock:
            server.received += len(events)
            server.accepted += sum(r["status"] == "accepted" for r in results)
        self._answer(200, {"results": results})

    def _answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (a hang test)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class IngestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), IngestApiHandler)
        self.lock = threading.Lock()
        self.received = 0
        self.accepted = 0
        self.down = False
        self.hang_s = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def ingest_server() -> Iterator[IngestServer]:
    """A stdlib HTTP server on a free loopback port that answers like the ingest API."""
    server = IngestServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def progress_lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def run_live(server: IngestServer, seconds: float, tmp_path: Path, **send: object) -> list[dict]:
    """send_forever for ``seconds`` against ``server``; every progress object it printed."""
    out = io.StringIO()
    options = SendOptions(endpoint=server.url, api_key="k", **{"rate": 400.0, "batch_size": 10, **send})
    progress = ProgressOptions(interval_s=0.25, path=tmp_path / "progress.json")

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await send_forever(
            PlanOptions(count=5, invalid_fraction=0.05), options, progress, seed=1, stop=stop, out=out
        )

    asyncio.run(main())
    return progress_lines(out)


def test_an_endless_plan_keeps_going_and_remembers_only_the_latest_visitors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(plan_module, "MAX_KNOWN_VISITORS", 50)
    endless = EventPlan(
        PlanOptions(count=None, duplicate_fraction=0.05),
        load_catalog(),
        rng=random.Random(5),
        clock=lambda: NOW,
    )

    items = list(itertools.islice(endless, 20_000))
    anonymous_ids = [item.payload["anonymous_id"] for item in items]

    assert len(items) == 20_000 and not endless.exhausted
    assert len(endless._visitors) == 50
    assert len(endless._retries) <= RETRY_DELAY_EVENTS[1]
    assert len(set(anonymous_ids)) > 50, "new visitors keep arriving after the cap"
    sessions_per_visitor = Counter(
        anonymous for anonymous, _ in {(i.payload["anonymous_id"], i.session_id) for i in items}
    )
    assert max(sessions_per_visitor.values()) > 1, "returning visitors still return"


def test_without_id_tracking_neither_the_tally_nor_the_sender_keeps_event_ids() -> None:
    items = plan(20)
    tally = PlanTally(track_ids=False)
    sender = Sender(SendOptions(endpoint="http://unused", api_key="k", rate=0, track_ids=False), client=None)

    list(tally.watch(iter(items)))
    sender._account(items, {"results": [{"index": i, "status": "accepted"} for i in range(len(items))]})

    assert tally.generated == 20 and tally.expected_ids == {}
    assert sender.stats.accepted == 20 and sender.stats.accepted_ids == set()


def test_each_progress_report_summarises_and_drops_the_latencies_of_its_window(tmp_path: Path) -> None:
    stats = SendStats(sent_events=30, accepted=28, rejected=2, attempts=3)
    stats.latencies_ms.extend([5.0, 7.0, 100.0])
    out = io.StringIO()
    options = SendOptions(endpoint="http://gw", api_key="k", rate=20)
    reporter = ProgressReporter(
        PlanTally(), stats, options, ProgressOptions(interval_s=1, path=tmp_path / "p.json"), out
    )

    first = reporter.report()
    stats.sent_events, stats.accepted = 40, 38
    second = reporter.report()

    assert stats.latencies_ms == []
    assert first["window"]["latency_ms"] == {"p50": 7.0, "p99": 100.0}
    assert second["window"]["latency_ms"] == {"p50": 0.0, "p99": 0.0}
    assert (second["sent"], second["accepted"], second["window"]["sent"]) == (40, 38, 10)
    assert [line["sent"] for line in progress_lines(out)] == [30, 40]
    assert json.loads((tmp_path / "p.json").read_text()) == second


def test_endless_mode_reports_growing_totals_until_stopped(
    ingest_server: IngestServer, tmp_path: Path
) -> None:
    lines = run_live(ingest_server, seconds=1.6, tmp_path=tmp_path)
    progress, final = lines[:-1], lines[-1]

    assert len(progress) >= 3, lines
    assert all(line["event"] == "progress" and line["state"] == "sending" for line in progress)
    sent = [line["sent"] for line in lines]
    assert sent == sorted(sent) and sent[-1] > sent[0] > 0
    assert final["event"] == "final" and final["state"] == "stopped"
    assert final["planned"]["generated"] > 5, "--count is ignored: the plan has no end"
    assert final["accepted"] == ingest_server.accepted > 0
    assert final["sent"] == ingest_server.received
    assert final["planned"]["invalid"] > 0 and final["rejected"] > 0, "the fault mix stays on"
    assert json.loads((tmp_path / "progress.json").read_text()) == final


def test_endless_mode_says_failing_while_the_api_only_errors(
    ingest_server: IngestServer, tmp_path: Path
) -> None:
    ingest_server.down = True

    lines = run_live(ingest_server, seconds=1.2, tmp_path=tmp_path, max_attempts=1)

    assert any(line["state"] == "failing" for line in lines[:-1]), lines
    assert lines[-1]["accepted"] == 0 and lines[-1]["failed_requests"] > 0


def test_a_stop_ends_an_endless_run_promptly_even_while_the_api_hangs(
    ingest_server: IngestServer, tmp_path: Path
) -> None:
    ingest_server.hang_s = 4.0
    began = time.monotonic()

    lines = run_live(ingest_server, seconds=0.5, tmp_path=tmp_path, max_in_flight=1, drain_s=0.3)

    assert time.monotonic() - began < 2.5, "neither the full slot nor the hung request held the stop up"
    assert lines[-1]["state"] == "stopped" and lines[-1]["accepted"] == 0


class DispatchClock(Sender):
    """Records when each batch is dispatched instead of posting it: the schedule alone is under test."""

    def __init__(self, options: SendOptions) -> None:
        super().__init__(options, client=None)
        self.dispatched: list[float] = []

    async def _send(self, batch: list[PlannedEvent]) -> None:
        self.dispatched.append(time.perf_counter())


def dispatch_span_after_a_stall(max_lag_s: float | None) -> float:
    """Seconds over which the ten batches after a 50-interval stall of the loop are dispatched."""
    items = plan(15)

    def stalled() -> Iterator[PlannedEvent]:
        yield from items[:5]
        time.sleep(0.5)  # blocks the event loop, as a slow plan or a busy machine would
        yield from items[5:]

    sender = DispatchClock(
        SendOptions(endpoint="http://unused", api_key="k", rate=100, batch_size=1, max_lag_s=max_lag_s)
    )
    asyncio.run(sender.run(stalled()))
    return sender.dispatched[-1] - sender.dispatched[5]


def test_with_a_lag_bound_a_backlog_is_dropped_instead_of_sent_in_a_burst() -> None:
    assert dispatch_span_after_a_stall(max_lag_s=None) < 0.05, "unbounded: overdue batches go at once"
    assert dispatch_span_after_a_stall(max_lag_s=0.05) >= 0.085, "bounded: the 10 ms spacing resumes"


def test_forever_refuses_an_expected_ids_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--forever", "--expected-ids-file", "ids.txt"])
    assert "bounded run" in capsys.readouterr().err


def test_the_forever_process_exits_cleanly_on_sigterm_with_a_final_summary(
    ingest_server: IngestServer, tmp_path: Path
) -> None:
    progress_file = tmp_path / "progress.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edp_local.load_generator",
            "--forever",
            "--endpoint",
            ingest_server.url,
            "--rate",
            "200",
            "--batch-size",
            "5",
            "--progress-interval",
            "0.3",
            "--progress-file",
            str(progress_file),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "include")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            progress_file.exists() and json.loads(progress_file.read_text())["accepted"] > 0
        ):
            assert process.poll() is None, process.communicate()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    lines = [json.loads(line) for line in stdout.splitlines()]
    assert process.returncode == 0, stderr
    assert lines[-1]["state"] == "stopped" and lines[-1]["accepted"] == ingest_server.accepted > 0
    assert any(line["event"] == "progress" for line in lines[:-1])
