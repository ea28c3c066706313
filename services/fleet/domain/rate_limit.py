"""A token bucket: a sustained rate with a burst allowance, two floats per session."""

from __future__ import annotations


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; each message takes one."""

    __slots__ = ("_burst", "_rate", "_tokens", "_updated")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._rate, self._burst = rate, burst
        self._tokens, self._updated = burst, now

    def take(self, now: float) -> bool:
        """Spend a token if one is left; False means the sender is over its rate."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
