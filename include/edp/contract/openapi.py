"""The event contract as OpenAPI 3.0 schema objects: the request schemas of the ingest API's spec.

The spec (``include/lambda/ingest/openapi.yaml``) is hand-written except for one region of
``components.schemas``, between the :data:`BEGIN` and :data:`END` lines, which this module renders
from ``schemas/v<major>/`` so that a request valid by the spec is one the handler accepts:

* each ``common.json`` definition becomes a component (``uuid`` -> ``Uuid``), each event type a
  ``<Type>Event`` component with its own patterns, lengths, bounds and enums; ``Event`` is their
  ``oneOf`` (``event_type`` tells them apart), ``EventBatch`` the ``{"events": [...]}`` wrapper
  and ``IngestRequest`` either;
* JSON Schema 2020-12 becomes OpenAPI 3.0 (what API Gateway imports): ``type: [t, "null"]`` ->
  ``nullable``, ``const`` -> a one-value ``enum``, numeric ``exclusiveMinimum`` -> the boolean form;
* ``format`` is kept where the handler asserts it (``uuid``, ``date-time``) and dropped where a
  pattern is the rule (``uri``: the pattern allows http(s) only); ``x-pii`` stays in the contract
  (API Gateway models are draft 4 and take no extensions);
* what OpenAPI cannot say is written into the descriptions and ``x-edp-*`` keys: the ``occurred_at``
  window relative to the receive time, the per-event byte limit, the free-text rule.

``python -m edp.contract.openapi`` rewrites the region; ``--check`` exits 1 when the committed spec
differs (``make openapi`` and a unit test run these).
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edp.contract.limits import MAX_BATCH_EVENTS, MAX_CLOCK_SKEW, MAX_EVENT_AGE, MAX_EVENT_BYTES
from edp.contract.registry import CONTRACT_VERSION, EVENT_TYPES, _read, major_dir

SPEC_PATH = Path(__file__).resolve().parents[2] / "lambda" / "ingest" / "openapi.yaml"
BEGIN = "    # >>> generated from the event contract (python -m edp.contract.openapi); do not edit by hand"
END = "    # <<< generated from the event contract"
ASSERTED_FORMATS = frozenset({"uuid", "date-time"})
_COPIED = frozenset(
    {
        "description",
        "title",
        "enum",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
        "required",
        "additionalProperties",
    }
)
_DROPPED = frozenset({"$schema", "$id", "$defs", "x-pii"})
_CONST_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number"}


def component_name(name: str) -> str:
    """``page_view`` -> ``PageView``: API Gateway model names must be alphanumeric."""
    return "".join(part.capitalize() for part in name.split("_"))


def event_component(event_type: str) -> str:
    return f"{component_name(event_type)}Event"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


class _Converter:
    """JSON Schema 2020-12 nodes of one contract directory -> OpenAPI 3.0 Schema Objects."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.common = _read(directory, "common.json")["$defs"]

    def node(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            return self._reference(schema)
        unknown = set(schema) - _COPIED - _DROPPED - {"type", "const", "format", "properties", "items"}
        unknown -= {"exclusiveMinimum", "exclusiveMaximum"}
        if unknown:
            raise ValueError(f"no OpenAPI 3.0 rendering for {sorted(unknown)} in {dict(schema)}")
        out: dict[str, Any] = {}
        self._type(schema, out)
        for key in ("title", "description", "format", "enum", "minLength", "maxLength", "pattern"):
            if key in schema and (key != "format" or schema[key] in ASSERTED_FORMATS):
                out[key] = copy.deepcopy(schema[key])
        self._bounds(schema, out)
        if "properties" in schema:
            out["properties"] = {name: self.node(child) for name, child in schema["properties"].items()}
        for key in ("required", "additionalProperties", "minItems", "maxItems"):
            if key in schema:
                out[key] = copy.deepcopy(schema[key])
        if "items" in schema:
            out["items"] = self.node(schema["items"])
        return out

    def _reference(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        target, _, pointer = schema["$ref"].partition("#")
        if target != "common.json" or not pointer.startswith("/$defs/"):
            raise ValueError(f"unsupported reference {schema['$ref']!r}")
        name = pointer.removeprefix("/$defs/")
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        if not siblings:
            return _ref(component_name(name))
        # OpenAPI 3.0 ignores a $ref's siblings, so a reference that adds to its target is inlined
        return self.node({**self.common[name], **siblings})

    @staticmethod
    def _type(schema: Mapping[str, Any], out: dict[str, Any]) -> None:
        declared = schema.get("type")
        if declared is None and "const" in schema:
            declared = _CONST_TYPES[type(schema["const"])]
        types = [declared] if isinstance(declared, str) else list(declared or [])
        non_null = [t for t in types if t != "null"]
        if len(non_null) > 1:
            raise ValueError(f"OpenAPI 3.0 has no union types: {types}")
        if non_null:
            out["type"] = non_null[0]
        if "null" in types:
            out["nullable"] = True
        if "const" in schema:
            out["enum"] = [schema["const"]]

    @staticmethod
    def _bounds(schema: Mapping[str, Any], out: dict[str, Any]) -> None:
        for key in ("minimum", "maximum"):
            if key in schema:
                out[key] = schema[key]
        for key, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if key in schema:  # 2020-12's number -> 3.0's boolean beside minimum/maximum
                out[plain], out[key] = schema[key], True


def _occurred_at_note() -> str:
    days, hours = MAX_EVENT_AGE.days, int(MAX_CLOCK_SKEW.total_seconds() // 3600)
    return (
        f" Must also lie from {days} days before to {hours} hours after the time the API receives the"
        " request: OpenAPI cannot state a bound relative to the receive time, so the handler checks it"
        " (x-edp-occurred-at-window) and rejects the event otherwise."
    )


def _occurred_at() -> dict[str, Any]:
    return {
        "allOf": [_ref("Timestamp")],
        "description": "When the event happened on the device." + _occurred_at_note(),
        "x-edp-occurred-at-window": {
            "maxAgeDays": MAX_EVENT_AGE.days,
            "maxClockSkewHours": int(MAX_CLOCK_SKEW.total_seconds() // 3600),
        },
    }


def _event_schema(converter: _Converter, event_type: str) -> dict[str, Any]:
    raw = _read(converter.directory, f"{event_type}.json")
    schema = converter.node(raw)
    if schema["properties"]["occurred_at"] != _ref("Timestamp"):
        raise ValueError(f"{event_type}.occurred_at is no longer the common timestamp")
    schema["properties"]["occurred_at"] = _ref("OccurredAt")
    schema["description"] = (
        f"{raw.get('description', event_type)} Contract {CONTRACT_VERSION}, "
        f"include/edp/contract/schemas/{converter.directory}/{event_type}.json."
    )
    return schema


def openapi_schemas(version: str | None = None) -> dict[str, dict[str, Any]]:
    """The generated ``components.schemas`` entries, in a stable order."""
    directory = major_dir(version)
    converter = _Converter(directory)
    schemas: dict[str, dict[str, Any]] = {
        "IngestRequest": {
            "description": "One event, or a batch wrapper of 1 to 500 events.",
            "oneOf": [_ref("Event"), _ref("EventBatch")],
        },
        "EventBatch": {
            "type": "object",
            "additionalProperties": False,
            "required": ["events"],
            "properties": {
                "events": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_BATCH_EVENTS,
                    "items": _ref("Event"),
                    "description": (
                        "Each event is validated on its own: a batch with some invalid events is"
                        " answered 207, its valid events accepted."
                    ),
                }
            },
        },
        "Event": {
            "description": (
                f"An event of any type of contract {CONTRACT_VERSION}; event_type selects the schema."
                f" Its compact JSON must be at most {MAX_EVENT_BYTES} bytes (x-edp-limits.maxEventBytes),"
                " a limit JSON Schema cannot state. Free text: control characters other than TAB, LF"
                " and CR, and U+2028/U+2029, are replaced by U+FFFD, never rejected. A repeated key"
                " inside an event keeps its last value."
            ),
            "oneOf": [_ref(event_component(t)) for t in EVENT_TYPES],
        },
    }
    for event_type in EVENT_TYPES:
        schemas[event_component(event_type)] = _event_schema(converter, event_type)
    schemas["OccurredAt"] = _occurred_at()
    for name, definition in converter.common.items():
        schemas[component_name(name)] = converter.node(definition)
    return schemas


def render_region(version: str | None = None) -> str:
    import yaml  # noqa: PLC0415 - a build-time tool; the Lambda imports this package without it

    body = yaml.safe_dump(
        openapi_schemas(version), sort_keys=False, default_flow_style=None, width=110, allow_unicode=False
    )
    indented = "".join(f"    {line}\n" if line else "\n" for line in body.splitlines())
    return f"{BEGIN}\n{indented}{END}\n"


def regenerate(text: str, version: str | None = None) -> str:
    """The spec text with the generated region replaced; everything else is kept byte for byte."""
    start, end = text.find(BEGIN + "\n"), text.find(END + "\n")
    if start < 0 or end < start:
        raise ValueError(f"the spec has no region between {BEGIN!r} and {END!r}")
    return text[:start] + render_region(version) + text[end + len(END) + 1 :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edp.contract.openapi", description=__doc__)
    parser.add_argument("spec", nargs="?", type=Path, default=SPEC_PATH)
    parser.add_argument("--check", action="store_true", help="exit 1 if the spec is not up to date")
    args = parser.parse_args(argv)
    current = args.spec.read_text(encoding="utf-8")
    wanted = regenerate(current)
    if args.check:
        if current != wanted:
            print(f"{args.spec} is out of date with the event contract: run `make openapi`")
            return 1
        return 0
    if current != wanted:
        args.spec.write_text(wanted, encoding="utf-8")
        print(f"rewrote the generated schemas in {args.spec}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
