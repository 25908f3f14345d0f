"""Schemathesis against the running local gateway and the real handler: the spec and the API agree.

Offline and bounded: the spec is read from the repository, the gateway and the Kinesis endpoint are
local processes (``gateway_factory``), every check runs, in the examples, coverage and fuzzing
phases, positive and negative, with a fixed seed and no example database.

Two documented gaps between OpenAPI and the API are bridged here, and only these:

* ``occurred_at`` must lie within 30 days before to 24 hours after the receive time, which OpenAPI
  cannot state (``x-edp-occurred-at-window``): in schema-valid (positive) bodies it is set to a
  minute ago before the call; negative bodies go out as generated;
* a batch whose events are partly invalid is answered 207, the valid ones accepted and the others
  rejected one by one: 207 counts as rejecting a negative (schema-violating) batch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import schemathesis

from edp_local.gateway.keys import DEMO_API_KEY
from edp_local.gateway.spec import default_spec_path

pytestmark = pytest.mark.integration

SEED = 20251120
CONFIG = f"""
seed = {SEED}

headers = {{ x-api-key = "{DEMO_API_KEY}" }}

[generation]
mode = "all"
max-examples = 100
database = "none"

[phases.examples]
enabled = true
[phases.coverage]
enabled = true
[phases.fuzzing]
enabled = true

[checks.negative_data_rejection]
expected-statuses = ["207", "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
"""


def _into_the_window(case) -> None:
    """A positive (schema-valid) body gets ``occurred_at`` values the receive-time window accepts."""
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    events = case.body.get("events") if "events" in case.body else [case.body]
    recent = (datetime.now(tz=UTC) - timedelta(minutes=1)).isoformat(timespec="milliseconds")
    for event in events if isinstance(events, list) else ():
        if isinstance(event, dict) and "occurred_at" in event:
            event["occurred_at"] = recent.replace("+00:00", "Z")


@pytest.fixture(scope="module")
def gateway_url(gateway_factory) -> str:
    return gateway_factory(stream="edp-schemathesis")


# loaded at import, as @schema.parametrize needs; the gateway's URL comes from the fixture per call
schema = schemathesis.openapi.from_path(default_spec_path(), config=schemathesis.Config.from_str(CONFIG))


@schema.parametrize()
def test_the_ingest_api_answers_every_generated_request_as_its_spec_says(case, gateway_url: str) -> None:
    _into_the_window(case)
    case.call_and_validate(base_url=gateway_url)
