"""An async token bucket: paces the Stripe calls of one worker process to a steady rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """`rate` tokens per second, bursts up to `capacity`; waiters are served in arrival order.

    A burst or backfill is slowed down here instead of being answered with 429s by Stripe.
    """

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def pause(self, seconds: float) -> None:
        """Nobody in this process takes a token for `seconds` (e.g. Stripe said 429)."""
        async with self._lock:
            self._refill()
            self._tokens = min(self._tokens, -seconds * self.rate)

    async def acquire(self) -> float:
        """Take one token, waiting if none is left; returns the seconds waited."""
        waited = 0.0
        # One waiter at a time refills and sleeps: FIFO fairness, no thundering herd.
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                delay = (1.0 - self._tokens) / self.rate
                waited += delay
                await asyncio.sleep(delay)
