"""Per-key token buckets: API Gateway's usage-plan throttle (rate = refill per second, burst = capacity)."""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]


@dataclasses.dataclass(frozen=True)
class ThrottleDecision:
    allowed: bool
    retry_after_s: int = 0  # whole seconds, as the Retry-After header carries them


class TokenBucket:
    """A bucket that starts full with ``burst`` tokens and refills at ``rate`` tokens per second."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"throttle needs rate > 0 and burst >= 1, got rate={rate} burst={burst}")
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def try_acquire(self, tokens: float = 1.0) -> ThrottleDecision:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= tokens:
            self._tokens -= tokens
            return ThrottleDecision(allowed=True)
        wait = (tokens - self._tokens) / self.rate
        return ThrottleDecision(allowed=False, retry_after_s=max(1, math.ceil(wait)))

    @property
    def tokens(self) -> float:
        return self._tokens


class KeyedThrottle:
    """One bucket per API key, created on first use; safe to call from several threads."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> ThrottleDecision:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self._clock)
            return bucket.try_acquire()
