"""Loading, bundling and describing the versioned JSON Schemas under ``schemas/v<major>/``.

The files on disk are the source of truth. Each event schema ``$ref``s shared definitions in
``common.json``; :func:`load_schema` returns a self-contained copy with every reference inlined,
so any JSON Schema implementation (fastjsonschema, jsonschema, OpenAPI tooling) can use it
without a resolver. Standard library only.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

CONTRACT_VERSION = "1.1"
"""Version of the contract this code implements: minor = additive, major = breaking (new ``vN`` dir)."""

EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "screen_view",
    "click",
    "add_to_cart",
    "purchase",
    "signup",
    "app_error",
)

PII_ACTIONS = ("hash", "drop", "mask")
PII_KEYWORD = "x-pii"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
RELEASED_SNAPSHOT = SCHEMAS_DIR / "released.json"


def contract_version() -> str:
    """The contract version implemented by this code, e.g. ``"1.0"``."""
    return CONTRACT_VERSION


def major_dir(version: str | None = None) -> str:
    """Map ``"1.0"``, ``"1"``, ``"v1"`` or ``None`` (current) to the schema directory name ``"v1"``."""
    raw = (version or CONTRACT_VERSION).strip().lower().removeprefix("v")
    major = raw.split(".", 1)[0]
    if not major.isdigit():
        raise ValueError(f"not a contract version: {version!r}")
    return f"v{int(major)}"


@lru_cache(maxsize=64)
def _read(directory: str, filename: str) -> dict[str, Any]:
    # importlib.resources, not __file__ paths: Spark ships this package zipped (--py-files).
    resource = resources.files("edp.contract").joinpath("schemas", directory, filename)
    if not resource.is_file():
        raise FileNotFoundError(f"no schema {filename!r} in contract {directory}")
    return json.loads(resource.read_text(encoding="utf-8"))


def _resolve_pointer(document: Mapping[str, Any], fragment: str) -> Any:
    node: Any = document
    for token in filter(None, fragment.lstrip("/").split("/")):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def _inline(node: Any, directory: str, current: str) -> Any:
    """Replace every ``$ref`` by a deep copy of its (recursively inlined) target."""
    if isinstance(node, list):
        return [_inline(item, directory, current) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target_file, _, fragment = node["$ref"].partition("#")
        target_file = target_file or current
        target = _resolve_pointer(_read(directory, target_file), fragment)
        resolved = _inline(target, directory, target_file)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        # a referenced whole document keeps its identity only at the top level
        merged = {k: v for k, v in resolved.items() if k not in ("$schema", "$id", "$defs")}
        merged.update(_inline(siblings, directory, current))
        return merged
    return {key: _inline(value, directory, current) for key, value in node.items() if key != "$defs"}


@lru_cache(maxsize=32)
def _bundled(event_type: str, directory: str) -> dict[str, Any]:
    if event_type not in EVENT_TYPES and event_type != "envelope":
        raise KeyError(f"unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}")
    filename = f"{event_type}.json"
    return _inline(_read(directory, filename), directory, filename)


def load_schema(event_type: str, version: str | None = None) -> dict[str, Any]:
    """The self-contained JSON Schema (draft 2020-12) of one event type; a copy the caller may change."""
    return copy.deepcopy(_bundled(event_type, major_dir(version)))


def envelope_schema(version: str | None = None) -> dict[str, Any]:
    """Schema of one Kinesis record: ``{"event": <any event>, "meta": {...server metadata}}``."""
    return copy.deepcopy(_bundled("envelope", major_dir(version)))


def combined_schema(version: str | None = None) -> dict[str, Any]:
    """One schema accepting any event type: ``oneOf`` over ``$defs``, discriminated by ``event_type``."""
    directory = major_dir(version)
    defs = {}
    for event_type in EVENT_TYPES:
        schema = load_schema(event_type, directory)
        schema.pop("$schema", None)
        defs[event_type] = schema
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"https://event-data-platform.example/schemas/events/{directory}/event.json",
        "title": "event",
        "description": f"Any product-analytics event of contract {directory}; event_type selects the schema.",
        "oneOf": [{"$ref": f"#/$defs/{event_type}"} for event_type in EVENT_TYPES],
        "x-discriminator": "event_type",
        "$defs": defs,
    }


def event_schemas(version: str | None = None) -> dict[str, dict[str, Any]]:
    """Every event type's bundled schema, keyed by event type (what the released snapshot stores)."""
    directory = major_dir(version)
    return {event_type: load_schema(event_type, directory) for event_type in EVENT_TYPES}


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One leaf or container of the flattened event: what warehouse DDL, Spark and GX are derived from.

    ``path`` is dotted; elements of an array are addressed as ``properties.items[].price``.
    ``nullable`` is true when the value may be null *or absent* in a table holding every event type.
    """

    path: str
    json_type: str
    nullable: bool
    pii: str | None
    format: str | None = None
    event_types: tuple[str, ...] = ()
    max_length: int | None = None
    enum: tuple[Any, ...] | None = None
    description: str | None = None


def _json_type(schema: Mapping[str, Any]) -> tuple[str, bool]:
    """The non-null JSON type of a schema node and whether null is allowed."""
    declared = schema.get("type")
    if declared is None and "const" in schema:
        declared = {str: "string", bool: "boolean", int: "integer", float: "number"}[type(schema["const"])]
    types = [declared] if isinstance(declared, str) else list(declared or [])
    non_null = [t for t in types if t != "null"]
    if len(non_null) != 1:
        raise ValueError(f"contract fields must have exactly one non-null type, got {types}")
    return non_null[0], "null" in types


def _walk(schema: Mapping[str, Any], prefix: str, optional: bool) -> Iterator[tuple[str, Mapping, str, bool]]:
    """Yield ``(path, node, json_type, nullable)`` for every property below ``schema``, depth first."""
    required = set(schema.get("required", ()))
    for name, node in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        json_type, allows_null = _json_type(node)
        nullable = optional or allows_null or name not in required
        yield path, node, json_type, nullable
        if json_type == "object":
            yield from _walk(node, f"{path}.", nullable)
        elif json_type == "array" and _json_type(node["items"])[0] == "object":
            yield from _walk(node["items"], f"{path}[].", nullable)


def _catalog(schemas: Mapping[str, Mapping[str, Any]]) -> list[FieldSpec]:
    seen: dict[str, FieldSpec] = {}
    for event_type, schema in schemas.items():
        for path, node, json_type, nullable in _walk(schema, "", optional=False):
            spec = FieldSpec(
                path=path,
                json_type=json_type,
                nullable=nullable,
                pii=node.get(PII_KEYWORD),
                format=node.get("format"),
                event_types=(event_type,),
                max_length=node.get("maxLength"),
                enum=tuple(node["enum"]) if "enum" in node else None,
                description=node.get("description"),
            )
            seen[path] = _merge(seen[path], spec) if path in seen else spec
    all_types = set(schemas)
    return [
        dataclasses.replace(spec, nullable=spec.nullable or set(spec.event_types) != all_types)
        for spec in seen.values()
    ]


def _merge(first: FieldSpec, other: FieldSpec) -> FieldSpec:
    """Combine the same path seen in two event types; the flattened table needs one type per column."""
    if (first.json_type, first.format) != (other.json_type, other.format):
        raise ValueError(
            f"field {first.path!r} is {first.json_type}/{first.format} in {first.event_types} but "
            f"{other.json_type}/{other.format} in {other.event_types}; one column needs one type"
        )
    if first.pii != other.pii:
        raise ValueError(f"field {first.path!r} has conflicting {PII_KEYWORD} markings")
    lengths = [n for n in (first.max_length, other.max_length) if n is not None]
    enum = None if first.enum is None or other.enum is None else tuple(dict.fromkeys(first.enum + other.enum))
    return dataclasses.replace(
        first,
        nullable=first.nullable or other.nullable,
        event_types=first.event_types + other.event_types,
        max_length=max(lengths) if lengths else None,
        enum=enum,
        description=first.description or other.description,
    )


@lru_cache(maxsize=4)
def _field_catalog(directory: str) -> tuple[FieldSpec, ...]:
    return tuple(_catalog({t: _bundled(t, directory) for t in EVENT_TYPES}))


def field_catalog(version: str | None = None) -> list[FieldSpec]:
    """Every field of every event type, flattened and merged, in schema order (common fields first)."""
    return list(_field_catalog(major_dir(version)))


def meta_field_catalog(version: str | None = None) -> list[FieldSpec]:
    """The server metadata fields of the Kinesis envelope (``meta.*`` paths)."""
    meta = _bundled("envelope", major_dir(version))["properties"]["meta"]
    return [
        dataclasses.replace(spec, path=f"meta.{spec.path}", event_types=())
        for spec in _catalog({"meta": meta})
    ]


def pii_fields(event_type: str | None = None, version: str | None = None) -> dict[str, str]:
    """``{path: "hash"|"drop"|"mask"}`` for fields marked ``x-pii``, for one event type or all."""
    return {
        spec.path: spec.pii
        for spec in field_catalog(version)
        if spec.pii and (event_type is None or event_type in spec.event_types)
    }
