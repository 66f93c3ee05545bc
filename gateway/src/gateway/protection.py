"""Guards against careless and hostile clients and against a failing upstream.

Rate limits are token buckets held in this gateway process (with several replicas, each
enforces its own share); the circuit breaker stops sending to an upstream that keeps failing,
so one broken service cannot tie up the gateway's connections and clients get 503 at once.
"""

from __future__ import annotations

import math
import time

from shared.metrics import CIRCUIT_OPEN


class TokenBuckets:
    """One token bucket per key: `rate` tokens a second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """0 if allowed; otherwise the seconds until a token is available."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._buckets.clear()  # crude but bounded: an attacker cannot grow memory
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


class CircuitBreaker:
    """Closed -> open after `threshold` consecutive failures; one trial call after `cooldown`."""

    def __init__(self, name: str, threshold: int = 5, cooldown: float = 10.0) -> None:
        self.name = name
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_in_flight = False

    def allow(self) -> float:
        """0 if a call may go; otherwise seconds until the next trial."""
        if self.opened_at is None:
            return 0.0
        waited = time.monotonic() - self.opened_at
        if waited >= self.cooldown and not self._trial_in_flight:
            self._trial_in_flight = True  # half-open: let one call find out
            return 0.0
        return max(self.cooldown - waited, 0.5)

    def success(self) -> None:
        if self.opened_at is not None:
            CIRCUIT_OPEN.labels(self.name).set(0)
        self.failures = 0
        self.opened_at = None
        self._trial_in_flight = False

    def failure(self) -> None:
        self.failures += 1
        self._trial_in_flight = False
        if self.failures >= self.threshold:
            if self.opened_at is None:
                CIRCUIT_OPEN.labels(self.name).set(1)
            self.opened_at = time.monotonic()
