"""What a locally supervised component is: a command, a port, and how to tell it is healthy."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from platform_config import PlatformConfig

JsonPredicate = Callable[[Any], bool]


@dataclasses.dataclass(frozen=True)
class HttpHealthCheck:
    """Healthy when ``url`` answers 2xx and, if given, its JSON body satisfies ``predicate``."""

    url: str
    predicate: JsonPredicate | None = None
    timeout_s: float = 3.0

    def probe(self) -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as response:  # noqa: S310 - loopback only
                body = response.read()
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            return False, f"{self.url}: {exc}"
        if self.predicate is None:
            return True, "ok"
        try:
            ok = bool(self.predicate(json.loads(body)))
        except (ValueError, KeyError, TypeError) as exc:
            return False, f"{self.url}: unexpected body ({exc})"
        return ok, "ok" if ok else f"{self.url}: reports unhealthy"


@dataclasses.dataclass(frozen=True)
class ServiceSpec:
    """One background process of the local platform.

    :param name: component name shown by ``make status``.
    :param command: argv, started in its own process group.
    :param port: the loopback port it listens on (checked free before start), or None.
    :param health: how to tell it is serving.
    :param url: what ``make status`` and ``make run`` print for humans.
    :param env: extra environment on top of the platform environment.
    :param on_ready: idempotent set-up to run once healthy (e.g. create streams).
    :param info: extra facts for ``make status`` (e.g. a demo API key).
    """

    name: str
    command: tuple[str, ...]
    health: HttpHealthCheck
    port: int | None = None
    url: str = ""
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    on_ready: Callable[[PlatformConfig], None] | None = None
    info: Mapping[str, str] = dataclasses.field(default_factory=dict)
    start_timeout_s: float = 180.0
