"""API keys of the local platform: the one demo key, and the key -> app mapping the handler receives."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

# Loopback-only demo credentials, printed by `make run`; never valid on AWS.
DEMO_API_KEY = "local-demo-key"
DEMO_APP = "demo-web"

# The variable the ingest Lambda reads its key -> app mapping from (on AWS: set by deployment).
API_KEYS_ENV = "INGEST_API_KEYS"


def api_key_mapping(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The key -> app mapping: ``INGEST_API_KEYS`` if set, else the demo key alone."""
    raw = (os.environ if environ is None else environ).get(API_KEYS_ENV, "").strip()
    if not raw:
        return {DEMO_API_KEY: DEMO_APP}
    mapping = json.loads(raw)
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k for k, v in mapping.items()
    ):
        raise ValueError(f"{API_KEYS_ENV} must be a JSON object of non-empty key strings to app names")
    return mapping
