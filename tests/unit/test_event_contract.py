"""The event contract: schemas, validation, PII marking, field catalog and compatibility rules."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edp.contract as event_contract
from edp.contract import compatibility
from edp.contract.registry import SCHEMAS_DIR
from tests.events.apigw import valid_event

pytestmark = pytest.mark.unit

NOW = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
_MAJOR, _MINOR = (int(part) for part in event_contract.CONTRACT_VERSION.split("."))
CURRENT = event_contract.CONTRACT_VERSION
NEXT_MINOR = f"{_MAJOR}.{_MINOR + 1}"
NEXT_MAJOR = f"{_MAJOR + 1}.0"


@pytest.mark.parametrize("event_type", event_contract.EVENT_TYPES)
def test_each_event_type_validates_with_both_fastjsonschema_and_jsonschema(event_type):
    event = valid_event(event_type, NOW)

    assert event_contract.validate_event(event, received_at=NOW) is None
    jsonschema.Draft202012Validator(event_contract.load_schema(event_type)).validate(event)
    jsonschema.Draft202012Validator(event_contract.combined_schema()).validate(event)


def test_schema_files_are_valid_draft_2020_12_schemas():
    for path in sorted((SCHEMAS_DIR / "v1").glob("*.json")):
        schema = json.loads(path.read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", path.name
        jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator.check_schema(event_contract.combined_schema())
    jsonschema.Draft202012Validator.check_schema(event_contract.envelope_schema())


def _walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


@pytest.mark.parametrize("event_type", event_contract.EVENT_TYPES)
def test_every_object_is_closed_and_every_string_array_and_number_is_bounded(event_type):
    for path, node in _walk(event_contract.load_schema(event_type)):
        types = node.get("type")
        types = [types] if isinstance(types, str) else types or []
        if "object" in types:
            assert node.get("additionalProperties") is False, path
        if "string" in types and "enum" not in node:
            assert "maxLength" in node, path
        if "array" in types:
            assert "maxItems" in node, path
        if {"number", "integer"} & set(types):
            assert "minimum" in node and "maximum" in node, path


def test_pii_fields_are_marked_with_an_action():
    pii = event_contract.pii_fields()

    assert pii["user_id"] == "hash"
    assert pii["anonymous_id"] == "hash"
    assert pii["device.ip"] == "drop"
    assert pii["properties.email"] == "drop"
    assert pii["properties.url"] == "mask"
    assert set(pii.values()) <= set(event_contract.PII_ACTIONS)
    assert "properties.email" not in event_contract.pii_fields("purchase")


def test_field_catalog_flattens_every_type_with_nullability_across_types():
    catalog = {spec.path: spec for spec in event_contract.field_catalog()}

    assert catalog["event_id"].json_type == "string" and not catalog["event_id"].nullable
    assert catalog["event_id"].format == "uuid"
    assert catalog["occurred_at"].format == "date-time"
    assert catalog["user_id"].nullable and catalog["user_id"].pii == "hash"
    assert catalog["properties.revenue"].json_type == "number"
    assert catalog["properties.revenue"].nullable  # only purchases carry it
    assert catalog["properties.items[].quantity"].json_type == "integer"
    assert catalog["properties.currency"].event_types == ("add_to_cart", "purchase")
    assert catalog["device.platform"].enum == ("web", "ios", "android")
    meta = {spec.path for spec in event_contract.meta_field_catalog()}
    assert {"meta.received_at", "meta.client_ip_hash", "meta.user_agent.os_family"} <= meta


def test_validate_event_reports_readable_reasons_for_every_problem():
    event = valid_event("purchase", NOW, event_id="123", extra="x")
    event["properties"]["currency"] = "usd"
    event["properties"]["items"][0]["quantity"] = 0

    reasons = event_contract.validate_event(event, received_at=NOW)

    assert any(r.startswith("event_id:") for r in reasons)
    assert any("extra" in r for r in reasons)
    assert any(r.startswith("properties.currency:") for r in reasons)
    assert any(r.startswith("properties.items[0].quantity:") for r in reasons)


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        ((NOW + timedelta(hours=23)).isoformat(), None),
        ((NOW + timedelta(hours=25)).isoformat(), "future"),
        ((NOW - timedelta(days=29)).isoformat(), None),
        ((NOW - timedelta(days=31)).isoformat(), "older than 30 days"),
        ("2025-02-30T10:00:00Z", "not a valid"),
        ("2025-11-20T10:00:00", "invalid format"),  # no offset
        ("yesterday", "invalid format"),
    ],
)
def test_occurred_at_must_parse_and_lie_within_the_receive_window(occurred_at, expected):
    reasons = event_contract.validate_event(
        valid_event("click", NOW, occurred_at=occurred_at), received_at=NOW
    )

    if expected is None:
        assert reasons is None
    else:
        assert reasons and any(expected in reason for reason in reasons)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ([], "must be a JSON object"),
        ({"event_type": "hover"}, "unknown event type 'hover'"),
        ({"event_type": 3}, "missing or not a string"),
        ({"event_type": ["page_view"]}, "missing or not a string"),
        ({"event_type": "x" * 10_000}, "unknown event type 'xxxx"),
    ],
)
def test_non_events_and_unknown_types_are_rejected_without_raising(event, expected):
    assert expected in event_contract.validate_event(event, received_at=NOW)[0]


def test_booleans_are_not_accepted_as_numbers():
    event = valid_event("add_to_cart", NOW)
    event["properties"]["quantity"] = True

    assert event_contract.validate_event(event, received_at=NOW)


def test_normalize_turns_integral_floats_into_ints_at_integer_fields_only():
    event = valid_event("purchase", NOW)
    event["properties"]["items"][0]["quantity"] = 2.0
    event["device"]["screen"] = {"width": 1080.0, "height": 1920, "density": 2.0}

    event_contract.normalize_event(event)

    assert type(event["properties"]["items"][0]["quantity"]) is int
    assert type(event["device"]["screen"]["width"]) is int
    assert type(event["device"]["screen"]["density"]) is float


OPTIONAL_PROPERTIES = {
    "page_view": {"referrer": "https://www.example.org/", "title": "Coffee"},
    "screen_view": {"screen_class": "HomeViewController", "previous_screen": None},
    "click": {"element_text": "Buy", "target_url": None},
    "add_to_cart": {"cart_id": "cart-1"},
    "purchase": {"tax": 1.5, "shipping": 0, "coupon": None},
    "signup": {"email": None, "referral_code": "FRIEND"},
    "app_error": {"component": "Checkout"},
}


def full_event(event_type: str) -> dict:
    """A valid event with every optional field present: compiled-schema bugs hide in optional fields."""
    event = valid_event(event_type, NOW)
    event["device"].update(
        model="Pixel 8",
        manufacturer="Google",
        timezone="Europe/Paris",
        ip="192.0.2.1",
        screen={"width": 1080, "height": 2400, "density": 2.625},
    )
    event["app"]["build"] = "412"
    event["properties"].update(OPTIONAL_PROPERTIES[event_type])
    return event


def _leaf_paths(node, prefix=""):
    for key, value in node.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, dict):
            yield from _leaf_paths(value, f"{path}.")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            yield from _leaf_paths(value[0], f"{path}[].")


def test_fully_populated_events_of_every_type_validate_and_cover_every_catalog_field():
    covered = set()
    for event_type in event_contract.EVENT_TYPES:
        event = full_event(event_type)
        assert event_contract.validate_event(event, received_at=NOW) is None, event_type
        covered |= set(_leaf_paths(event))

    assert {spec.path for spec in event_contract.field_catalog()} <= covered


json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


@st.composite
def mutated_events(draw):
    event_type = draw(st.sampled_from(event_contract.EVENT_TYPES))
    event = full_event(event_type) if draw(st.booleans()) else valid_event(event_type, NOW)
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from([p for p in _paths(event) if p]))
        *parents, leaf = path
        node = event
        for key in parents:
            node = node[key]
        action = draw(st.sampled_from(["replace", "delete", "extra"]))
        if action == "replace":
            node[leaf] = draw(json_junk | st.sampled_from(["", "x" * 3000, 1.0, 2, -1, True, "USD", "web"]))
        elif action == "delete" and isinstance(node, dict):
            del node[leaf]
        elif isinstance(node, dict):
            node[draw(st.text(max_size=6))] = draw(json_junk)
    return event


@settings(max_examples=300, deadline=None)
@given(mutated_events())
def test_compiled_validator_agrees_with_the_reference_jsonschema_implementation(event):
    reference = jsonschema.Draft202012Validator(event_contract.combined_schema())

    assert (event_contract.schema_errors(event) is None) == reference.is_valid(event)


def test_released_snapshot_matches_the_current_contract_or_the_version_was_bumped():
    problems = compatibility.release_problems(compatibility.load_released())

    assert problems == [], "\n".join(problems)


@pytest.fixture
def released():
    return compatibility.snapshot()


def _current(released):
    return copy.deepcopy(released["schemas"])


def test_compatibility_flags_a_removed_field_as_breaking(released):
    schemas = _current(released)
    del schemas["purchase"]["properties"]["properties"]["properties"]["coupon"]

    changes = compatibility.breaking_changes(released["schemas"], schemas)

    assert [(c.path, c.kind) for c in changes] == [("properties.coupon", "removed field")]


def test_compatibility_flags_a_changed_type_as_breaking(released):
    schemas = _current(released)
    schemas["add_to_cart"]["properties"]["properties"]["properties"]["quantity"]["type"] = "string"

    changes = compatibility.breaking_changes(released["schemas"], schemas)

    assert ("properties.quantity", "changed type") in [(c.path, c.kind) for c in changes]


def test_compatibility_flags_a_newly_required_field_as_breaking(released):
    schemas = _current(released)
    schemas["signup"]["properties"]["properties"]["required"].append("referral_code")
    schemas["click"]["properties"]["properties"]["properties"]["position"] = {"type": "integer"}
    schemas["click"]["properties"]["properties"]["required"].append("position")

    changes = {
        (c.event_type, c.path, c.kind) for c in compatibility.breaking_changes(released["schemas"], schemas)
    }

    assert ("signup", "properties.referral_code", "newly required field") in changes
    assert ("click", "properties.position", "newly required field") in changes


def test_compatibility_flags_narrowing_but_not_widening(released):
    schemas = _current(released)
    page = schemas["page_view"]["properties"]["properties"]["properties"]
    page["title"]["maxLength"] = 100
    page["path"]["maxLength"] = 4096
    schemas["page_view"]["properties"]["properties"]["properties"]["section"] = {
        "type": "string",
        "maxLength": 9,
    }

    changes = compatibility.compare(released["schemas"], schemas)
    breaking = {(c.path, c.kind) for c in changes if c.breaking}
    compatible = {(c.path, c.kind) for c in changes if not c.breaking}

    assert breaking == {("properties.title", "narrowed bound")}
    assert {
        ("properties.path", "widened bound"),
        ("properties.section", "added optional field"),
    } <= compatible


def test_release_rule_requires_a_major_bump_for_breaking_and_a_bump_for_any_change(released):
    schemas = _current(released)
    del schemas["app_error"]["properties"]["properties"]["properties"]["component"]

    same_version = compatibility.release_problems(released, CURRENT, schemas)
    minor_bump = compatibility.release_problems(released, NEXT_MINOR, schemas)
    major_bump = compatibility.release_problems(released, NEXT_MAJOR, schemas)

    assert any("major version bump" in p for p in same_version)
    assert any("major version bump" in p for p in minor_bump)
    assert major_bump == []


def test_release_rule_accepts_additive_changes_only_with_a_version_bump(released):
    schemas = _current(released)
    schemas["signup"]["properties"]["properties"]["properties"]["campaign"] = {
        "type": "string",
        "maxLength": 64,
    }

    assert any(
        "CONTRACT_VERSION is still" in p for p in compatibility.release_problems(released, CURRENT, schemas)
    )
    assert compatibility.release_problems(released, NEXT_MINOR, schemas) == []


def _tighten_url(schemas: dict) -> None:
    url = schemas["page_view"]["properties"]["properties"]["properties"]["url"]
    url["pattern"] = "^https://"


def test_a_listed_security_narrowing_ships_in_a_minor_version_and_an_unlisted_one_does_not(
    released, monkeypatch
):
    schemas = _current(released)
    _tighten_url(schemas)
    assert any(
        "major version bump" in p for p in compatibility.release_problems(released, NEXT_MINOR, schemas)
    )

    listed = {("page_view", "properties.url", "changed pattern"): "https only"}
    monkeypatch.setitem(compatibility.SECURITY_NARROWINGS, NEXT_MINOR, listed)

    assert compatibility.release_problems(released, NEXT_MINOR, schemas) == []
    assert any(
        "CONTRACT_VERSION is still" in p for p in compatibility.release_problems(released, CURRENT, schemas)
    )


def test_a_security_narrowing_cannot_cover_a_removed_field(released, monkeypatch):
    schemas = _current(released)
    del schemas["app_error"]["properties"]["properties"]["properties"]["component"]
    listed = {("app_error", "properties.component", "removed field"): "no"}
    monkeypatch.setitem(compatibility.SECURITY_NARROWINGS, NEXT_MINOR, listed)

    problems = compatibility.release_problems(released, NEXT_MINOR, schemas)

    assert any("may ship in a minor version" in p for p in problems)
    assert any("major version bump" in p for p in problems)


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://shop.example.com/c/coffee?page=2#top", True),
        ("HTTP://shop.example.com", True),
        ("https://例え.jp/パス", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("file:///etc/passwd", False),
        ("https://", False),
        ("https:///path-without-host", False),
        ("https://shop.example.com/with space", False),
        ("https://shop.example.com/\x00", False),
        ("https://shop.example.com/\n", False),
    ],
)
def test_page_urls_are_http_or_https_only(url, accepted):
    event = valid_event("page_view", NOW)
    event["properties"]["url"] = url

    assert (event_contract.validate_event(event, received_at=NOW) is None) is accepted


free_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.lists(free_text, max_size=4))
def test_the_control_character_rule_keeps_lengths_and_its_cheap_test_never_misses(texts):
    import orjson

    data = orjson.dumps(texts)
    cleaned = event_contract.replace_control_characters(list(texts))

    assert [len(t) for t in cleaned] == [len(t) for t in texts]
    assert not any(event_contract.text.CONTROL_CHARACTERS.search(t) for t in cleaned)
    if not event_contract.may_hold_control_characters(data):
        assert cleaned == texts
