"""Wall time per demo stage, and which stage is running now (the memory sampler tags its peak with it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class StageClock:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, say: Callable[[str], None] = print
    ) -> None:
        self._clock = clock
        self._say = say
        self.started = clock()
        self.current = "setup"
        self.stages: list[tuple[str, float]] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.current = name
        self._say(f"\n== {name} ==")
        began = self._clock()
        try:
            yield
        finally:
            seconds = self._clock() - began
            self.stages.append((name, seconds))
            self._say(f"   {name}: {seconds:.1f}s")
            self.current = "between stages"

    def total(self) -> float:
        return self._clock() - self.started

    def to_list(self) -> list[dict[str, Any]]:
        """Each stage with its seconds and share of the demo's whole wall time."""
        total = self.total() or 1e-9
        return [{"stage": n, "seconds": round(s, 1), "share": round(s / total, 3)} for n, s in self.stages]
