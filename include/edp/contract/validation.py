"""Fast event validation: fastjsonschema validators compiled once per event type, plus the time window.

``validate_event`` never raises for bad input: it returns ``None`` for a valid event or a list of
short, human-readable reasons (``"properties.currency: must be one of [...]"``) for an invalid one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from edp.contract.limits import MAX_CLOCK_SKEW, MAX_EVENT_AGE
from edp.contract.registry import EVENT_TYPES, _bundled, major_dir

_MAX_REASON_CHARS = 240
_MAX_REASONS = 10
_KNOWN_TYPES = frozenset(EVENT_TYPES)
_CURRENT = major_dir(None)
_VALIDATORS: dict[tuple[str, str], Callable[[Any], Any]] = {}
# integer fields per event type, grouped by parent object; an "items[]" parent means each element
_INTEGER_FIELDS: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = {}
_ValuesError: type[Exception] = Exception  # fastjsonschema's, bound when the first validator compiles
_SET_ENUM_MIN = 16
_SET_ENUM_PREFIX = "x-enum-of-"
_ANNOTATIONS = frozenset({"format", "description", "title", "examples", "x-pii"})


def compiled_validator(event_type: str, version: str | None = None) -> Callable[[Any], Any]:
    """The compiled validator of one event type (compiled once, kept for the life of the process)."""
    key = (_CURRENT if version is None else major_dir(version), event_type)
    validator = _VALIDATORS.get(key)
    if validator is None:
        validator = _VALIDATORS[key] = _compile(*key)
    return validator


def _compile(directory: str, event_type: str) -> Callable[[Any], Any]:
    global _ValuesError  # bound once, read on every invalid event
    import fastjsonschema  # noqa: PLC0415 - compiled on first use, keeps `import edp.contract` cheap

    _ValuesError = fastjsonschema.JsonSchemaValuesException
    formats: dict[str, Callable[[str], bool]] = {}
    # The schemas use only keywords whose meaning is the same in draft 7 and 2020-12, and
    # patterns instead of `format`, so fastjsonschema's draft-7 engine validates them exactly.
    options = {"use_default": False, "use_formats": True, "fast_fail": False}
    schema = _for_compiler(_bundled(event_type, directory), formats)
    code = fastjsonschema.compile_to_code(schema, formats=formats, **options)
    validator = _exec_hoisted(code, f"<validator {directory}/{event_type}>")
    if validator is None or validator.__defaults__ is None or len(validator.__defaults__) != 2:
        # generated code of an unexpected shape: use it as fastjsonschema built it
        return fastjsonschema.compile(schema, formats=formats, **options)
    validator.__defaults__ = (formats, None)  # (custom_formats, name_prefix): what compile() binds
    return validator


def _exec_hoisted(code: str, filename: str) -> Callable[..., Any] | None:
    """Load fastjsonschema's generated code with its ``required`` key sets built once, not per call.

    The generated code rebuilds ``set([...required names...])`` for every object it checks; as
    module constants they cost nothing, which is ~2 µs of ~8 per event.
    """
    import ast  # noqa: PLC0415 - only while compiling validators
    import re  # noqa: PLC0415

    constants: dict[str, frozenset[str]] = {}

    def hoist(match: re.Match[str]) -> str:
        name = f"_REQUIRED_{len(constants)}"
        constants[name] = frozenset(ast.literal_eval(match.group(1)))
        return f"{name} - "

    namespace: dict[str, Any] = {}
    code = re.sub(r"set\((\[[^\]]*\])\) - ", hoist, code)
    namespace.update(constants)
    exec(compile(code, filename, "exec"), namespace)  # noqa: S102 - generated from our own schemas
    functions = [v for k, v in namespace.items() if k.startswith("validate_") and callable(v)]
    return functions[0] if len(functions) == 1 else None


def _for_compiler(node: Any, formats: dict[str, Callable[[str], bool]]) -> Any:
    """The same constraints, cheaper to check: large string enums become set-membership formats.

    fastjsonschema checks ``enum`` by scanning a list (~170 comparisons for a currency); a frozenset
    lookup is constant time. Annotations are dropped (``format``: patterns already enforce it), which
    also shrinks the generated code, since it embeds the schema at every error site.
    """
    if isinstance(node, list):
        return [_for_compiler(item, formats) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _for_compiler(value, formats) for key, value in node.items() if key not in _ANNOTATIONS}
    if isinstance(node.get("properties"), dict):  # a map of field names, which may equal annotation names
        out["properties"] = {name: _for_compiler(sub, formats) for name, sub in node["properties"].items()}
    enum = node.get("enum")
    if (
        enum
        and len(enum) > _SET_ENUM_MIN
        and node.get("type") == "string"
        and all(isinstance(v, str) for v in enum)
    ):
        name = f"{_SET_ENUM_PREFIX}{len(enum)}-{len(formats)}"
        formats[name] = frozenset(enum).__contains__
        del out["enum"]
        out["format"] = name
    return out


def warm_up(version: str | None = None) -> None:
    """Compile every validator now (call at cold start so the first request does not pay for it)."""
    for event_type in EVENT_TYPES:
        compiled_validator(event_type, version)


def _reason(error: Any) -> str:
    path = error.name.removeprefix("data").lstrip(".") or "event"
    message = error.message.removeprefix(error.name).strip()
    if error.rule == "enum" and len(error.rule_definition) > 8:
        message = f"must be one of the {len(error.rule_definition)} allowed values"
    elif error.rule == "format" and str(error.rule_definition).startswith(_SET_ENUM_PREFIX):
        allowed = error.rule_definition.removeprefix(_SET_ENUM_PREFIX).split("-")[0]
        message = f"must be one of the {allowed} allowed values"
    elif error.rule == "pattern":
        message = "has an invalid format"
    reason = f"{path}: {message}"
    return reason if len(reason) <= _MAX_REASON_CHARS else reason[: _MAX_REASON_CHARS - 3] + "..."


def schema_errors(event: Any, version: str | None = None) -> list[str] | None:
    """Reasons the event violates its JSON Schema, or ``None``; does not check the time window."""
    if not isinstance(event, dict):
        return [f"event: must be a JSON object, got {_json_name(event)}"]
    event_type = event.get("event_type")
    if not isinstance(event_type, str):
        return ["event_type: missing or not a string"]
    if event_type not in _KNOWN_TYPES:
        shown = event_type if len(event_type) <= 40 else event_type[:40] + "..."
        return [f"event_type: unknown event type {shown!r}; known: {', '.join(EVENT_TYPES)}"]
    try:
        compiled_validator(event_type, version)(event)
    except _ValuesError as exc:
        return [_reason(error) for error in exc.errors[:_MAX_REASONS]]
    return None


def parse_timestamp(value: str) -> datetime | None:
    """Parse an RFC 3339 timestamp that already matched the schema pattern; ``None`` if impossible."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def time_window_error(occurred_at: str, received_at: datetime) -> str | None:
    """Why ``occurred_at`` is unacceptable relative to ``received_at``, or ``None`` if it is fine."""
    moment = parse_timestamp(occurred_at)
    if moment is None:
        return "occurred_at: not a valid RFC 3339 date-time"
    if moment > received_at + MAX_CLOCK_SKEW:
        return f"occurred_at: more than {_hours(MAX_CLOCK_SKEW)} h in the future of the receive time"
    if moment < received_at - MAX_EVENT_AGE:
        return f"occurred_at: older than {MAX_EVENT_AGE.days} days before the receive time"
    return None


def validate_event(
    event: Any, *, received_at: datetime | None = None, version: str | None = None
) -> list[str] | None:
    """Validate one decoded event; ``None`` when valid, else the reasons it is not.

    ``received_at`` (aware) anchors the ``occurred_at`` window; it defaults to now.
    """
    # hot path: an already compiled validator for a plain dict of a known type
    event_type = event.get("event_type") if event.__class__ is dict else None
    key = (_CURRENT if version is None else major_dir(version), event_type)
    validator = _VALIDATORS.get(key) if event_type.__class__ is str else None
    if validator is None:
        errors = schema_errors(event, version)
        if errors is not None:
            return errors
    else:
        try:
            validator(event)
        except _ValuesError as exc:
            return [_reason(error) for error in exc.errors[:_MAX_REASONS]]
    window_error = time_window_error(event["occurred_at"], received_at or datetime.now(tz=UTC))
    return [window_error] if window_error else None


def normalize_event(event: dict[str, Any]) -> dict[str, Any]:
    """Turn integral floats (``2.0``) at integer fields into ints, in place, so typed readers agree.

    JSON Schema counts ``2.0`` as an integer, but a Spark/warehouse integer column would not.
    Call only on events that passed :func:`validate_event`.
    """
    for parents, leaves in _integer_fields(event["event_type"]):
        for node in _containers(event, parents):
            for leaf in leaves:
                value = node.get(leaf)
                if value.__class__ is float:
                    node[leaf] = int(value)
    return event


def _containers(node: dict[str, Any], parents: tuple[str, ...]) -> list[dict[str, Any]]:
    """The objects at ``parents`` (``"items[]"`` fans out over an array); missing ones are skipped."""
    for depth, key in enumerate(parents):
        if key.endswith("[]"):
            items = node.get(key[:-2]) or ()
            return [found for item in items for found in _containers(item, parents[depth + 1 :])]
        node = node.get(key)  # type: ignore[assignment]
        if node is None:
            return []
    return [node]


def _integer_fields(event_type: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """``((parent keys, integer leaves), ...)`` for one event type, grouped by parent, cached."""
    fields = _INTEGER_FIELDS.get(event_type)
    if fields is None:
        from edp.contract.registry import _catalog  # noqa: PLC0415 - once per event type

        grouped: dict[tuple[str, ...], list[str]] = {}
        for spec in _catalog({event_type: _bundled(event_type, _CURRENT)}):
            if spec.json_type == "integer":
                *parents, leaf = spec.path.split(".")
                grouped.setdefault(tuple(parents), []).append(leaf)
        fields = _INTEGER_FIELDS[event_type] = tuple((k, tuple(v)) for k, v in grouped.items())
    return fields


def _hours(delta: Any) -> int:
    return int(delta.total_seconds() // 3600)


def _json_name(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
