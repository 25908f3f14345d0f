"""Server-side metadata added to every accepted event: receive time, caller identity, parsed User-Agent."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from typing import Any

_MAX_UA_CHARS = 512  # longer headers are truncated before parsing: bounded regex work and cache keys
_UA_FIELD_LIMITS = {"browser_version": 32, "os_version": 32}


def format_received_at(moment: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: sortable and identical in every record of a request."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def hash_ip(ip: str | None, salt: bytes) -> str | None:
    """Salted SHA-256 of the caller's IP: joinable within the platform, not reversible without the salt."""
    if not ip:
        return None
    return hashlib.sha256(salt + ip.encode("utf-8", "replace")).hexdigest()


def _version(*parts: str | None) -> str | None:
    present = [p for p in parts if p]
    return ".".join(present) if present else None


@lru_cache(maxsize=2048)
def parse_user_agent(header: str | None) -> dict[str, Any] | None:
    """Parse a User-Agent header with ua-parser (cached: a batch shares one header, apps share few)."""
    if not header:
        return None
    import ua_parser  # noqa: PLC0415 - ~60 ms import and a regex build, paid on first use, not at import

    try:
        result = ua_parser.parse(header[:_MAX_UA_CHARS])
    except Exception:
        return None
    agent, os_, device = result.user_agent, result.os, result.device
    parsed = {
        "browser_family": agent.family if agent else "Other",
        "browser_version": _version(agent.major, agent.minor, agent.patch) if agent else None,
        "os_family": os_.family if os_ else "Other",
        "os_version": _version(os_.major, os_.minor, os_.patch) if os_ else None,
        "device_family": device.family if device else "Other",
        "device_brand": device.brand if device else None,
        "device_model": device.model if device else None,
    }
    return {key: _clip(key, value) for key, value in parsed.items()}


def _clip(key: str, value: str | None) -> str | None:
    limit = _UA_FIELD_LIMITS.get(key, 64)
    return value[:limit] if value else value
