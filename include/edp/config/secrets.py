"""Whether a secret that is not configured may fall back to a fixed development value.

Each module reads its own secrets (environment variable, or Secrets Manager when ``<NAME>_SECRET_ID``
is set) and names its development value next to it. Whether that value may be used is the
environment's decision, taken once in :mod:`edp.resources`: on a laptop a missing salt or API key falls
back to a documented, non-secret value so ``make run`` works out of the box; on AWS nothing falls back,
so a missing secret stops the function or job (production fails closed).
"""

from __future__ import annotations


class DevelopmentSecrets:
    """Local: unset secrets take the caller's development value."""

    def fallback(self, name: str, development_value: str) -> str | None:
        return development_value


class ManagedSecrets:
    """AWS: no fallback; an unset secret stays unset and the caller refuses to run."""

    def fallback(self, name: str, development_value: str) -> str | None:
        return None
