"""The product-analytics event contract: versioned JSON Schemas plus the code every layer shares.

* ``schemas/v1/*.json`` — one JSON Schema (draft 2020-12) per event type, ``common.json`` for shared
  definitions and ``envelope.json`` for the Kinesis record (event + server ``meta``).
* :func:`validate_event` — compiled (fastjsonschema) validation with readable reasons and the
  ``occurred_at`` window from :mod:`edp.contract.limits`.
* :func:`field_catalog` / :func:`pii_fields` — the flattened field list that Spark schemas, Great
  Expectations suites and warehouse DDL are derived from; PII is marked with ``"x-pii"``:
  ``hash`` (keep joinable as a salted hash), ``drop`` (never past bronze), ``mask`` (strip the
  sensitive part: URL query strings, free text).
* :func:`replace_control_characters` — the free-text rule (:mod:`edp.contract.text`): control
  characters and U+2028/U+2029 become U+FFFD; events are never rejected for them.
* :mod:`edp.contract.openapi` — the schemas as OpenAPI 3.0 components, written into the ingest
  API's spec by ``make openapi``.
* :mod:`edp.contract.compatibility` — refuses backward-incompatible edits without a version bump.

Importing this package costs only the standard library; fastjsonschema loads on first validation.
"""

from edp.contract.limits import (
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
    MAX_CLOCK_SKEW,
    MAX_EVENT_AGE,
    MAX_EVENT_BYTES,
)
from edp.contract.registry import (
    CONTRACT_VERSION,
    EVENT_TYPES,
    PII_ACTIONS,
    FieldSpec,
    combined_schema,
    contract_version,
    envelope_schema,
    event_schemas,
    field_catalog,
    load_schema,
    meta_field_catalog,
    pii_fields,
)
from edp.contract.text import may_hold_control_characters, replace_control_characters
from edp.contract.validation import (
    compiled_validator,
    normalize_event,
    parse_timestamp,
    schema_errors,
    time_window_error,
    validate_event,
    warm_up,
)

__all__ = [
    "CONTRACT_VERSION",
    "EVENT_TYPES",
    "MAX_BATCH_EVENTS",
    "MAX_BODY_BYTES",
    "MAX_CLOCK_SKEW",
    "MAX_EVENT_AGE",
    "MAX_EVENT_BYTES",
    "PII_ACTIONS",
    "FieldSpec",
    "combined_schema",
    "compiled_validator",
    "contract_version",
    "envelope_schema",
    "event_schemas",
    "field_catalog",
    "load_schema",
    "may_hold_control_characters",
    "meta_field_catalog",
    "normalize_event",
    "parse_timestamp",
    "pii_fields",
    "replace_control_characters",
    "schema_errors",
    "time_window_error",
    "validate_event",
    "warm_up",
]
