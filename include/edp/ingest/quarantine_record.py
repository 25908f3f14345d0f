"""One quarantine record (a JSON Lines line) per rejected event, bounded whatever the event.

An event is stored whole when its compact, ASCII-escaped JSON is at most
:data:`MAX_STORED_EVENT_BYTES` (96 KiB: every event within the contract's 32 KiB limit fits, so each
one that a contract fix could make acceptable stays replayable); a larger one keeps only its first
:data:`STORED_PREFIX_BYTES` as a string. Either way the record carries the serialisation's length
and SHA-256, so a flood of oversize rejects costs a few KiB each and repeats of one payload can
still be told apart and counted. Where records are stored is :mod:`edp.ingest.quarantine`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from edp.contract import MAX_EVENT_BYTES

# ASCII escaping at most triples UTF-8 (a 2- or 4-byte character becomes 6 or 12 bytes), so every event
# within the contract's per-event limit is stored whole
MAX_STORED_EVENT_BYTES = 3 * MAX_EVENT_BYTES
STORED_PREFIX_BYTES = 4096
_COMPACT = {"ensure_ascii": True, "separators": (",", ":"), "allow_nan": False}


class _Raw(str):
    """Already-encoded JSON text on the encoder's stack (as opposed to a string value to encode)."""


def _scalar(value: Any) -> str:
    try:
        return json.dumps(value, **_COMPACT)
    except (ValueError, TypeError):  # NaN/Infinity, an int past str()'s digit limit, a foreign type
        return json.dumps(f"<unencodable {type(value).__name__}>")


def _encode_with_a_stack(value: Any) -> str:
    """The same JSON as ``json.dumps(value, **_COMPACT)``, with an explicit stack instead of recursion."""
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            out.append(item)
        elif isinstance(item, dict):
            parts: list[Any] = [_Raw("{")]
            for i, (key, child) in enumerate(item.items()):
                parts += [_Raw(("," if i else "") + _scalar(str(key)) + ":"), child]
            stack.extend(reversed([*parts, _Raw("}")]))
        elif isinstance(item, list | tuple):
            parts = [_Raw("[")]
            for i, child in enumerate(item):
                parts += [_Raw(","), child] if i else [child]
            stack.extend(reversed([*parts, _Raw("]")]))
        else:
            out.append(_scalar(item))
    return "".join(out)


def encode_event(value: Any) -> bytes:
    """Compact ASCII JSON of any decoded value; never raises, whatever its depth, width or numbers.

    The C encoder recurses and raises RecursionError some 900 levels down, while orjson accepts
    bodies 1,024 levels deep (and itself refuses to encode past 255), hence the explicit-stack
    fallback. ASCII escapes keep U+2028 and friends from splitting a JSON Lines record.
    """
    try:
        return json.dumps(value, **_COMPACT).encode()
    except (RecursionError, ValueError, TypeError):
        return _encode_with_a_stack(value).encode()


def quarantine_line(fields: Mapping[str, Any], event: Any) -> bytes:
    """One JSON Lines record: ``fields`` plus the event (or its bounded prefix), length and SHA-256."""
    encoded = encode_event(event)
    head = {**fields, "event_bytes": len(encoded), "event_sha256": hashlib.sha256(encoded).hexdigest()}
    if len(encoded) <= MAX_STORED_EVENT_BYTES:
        tail = b',"event":' + encoded
    else:
        prefix = encoded[:STORED_PREFIX_BYTES].decode("ascii")
        tail = b',"event":null,"event_truncated":true,"event_prefix":' + json.dumps(prefix).encode()
    return encode_event(head)[:-1] + tail + b"}"
