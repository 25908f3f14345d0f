"""The load generator's plan: contract-valid sessions and funnels, and the faults it injects on purpose."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

import event_contract
from load_generator.catalog import load_catalog
from load_generator.plan import INVALID_KINDS, EventPlan, PlannedEvent, PlanOptions, break_event
from load_generator.sender import Sender, SendOptions, SendStats, batches, percentile, request_body

pytestmark = pytest.mark.unit

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
