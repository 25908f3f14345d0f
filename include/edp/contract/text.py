"""Control characters in free text: replaced, never rejected, so an event keeps its place in the data.

The rule (contract 1.1): in every string of an accepted event, each C0 control other than TAB, LF and
CR, DEL, each C1 control (U+0080-U+009F), and the line and paragraph separators U+2028 and U+2029
become U+FFFD (the Unicode replacement character). NUL cannot reach a Redshift VARCHAR, U+2028 ends a
JavaScript string literal and splits a line for line-based readers; the rest are invisible noise.
Identifiers cannot hold them at all (their patterns are printable ASCII), so only free text changes.
One character becomes one character: lengths, and so ``maxLength``, are unchanged.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def replace_control_characters(value: Any) -> Any:
    """``value`` with the rule applied to every string in it (in place for containers, which are returned)."""
    if isinstance(value, str):
        return CONTROL_CHARACTERS.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = replace_control_characters(item)
    elif isinstance(value, list):
        value[:] = [replace_control_characters(item) for item in value]
    return value


def may_hold_control_characters(data: bytes) -> bool:
    """Cheap test on compact UTF-8 JSON (orjson's output): ``False`` means no string needs replacing.

    orjson escapes C0 controls as ``\\u00XX`` or ``\\b``/``\\f`` and writes DEL, C1 controls (UTF-8
    ``C2 80``-``C2 9F``) and U+2028/9 (``E2 80 A8``/``A9``) raw. A true answer may be a false alarm
    (an escaped backslash before ``b``, a Latin-1 letter); the caller then applies the exact rule.
    """
    if b"\x7f" in data:
        return True
    # one-byte searches first (memchr): most events hold no escape and no non-ASCII byte at all
    if b"\\" in data and (b"\\u00" in data or b"\\b" in data or b"\\f" in data):
        return True
    return not data.isascii() and (b"\xc2" in data or b"\xe2\x80\xa8" in data or b"\xe2\x80\xa9" in data)
