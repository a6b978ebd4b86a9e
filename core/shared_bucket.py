"""One Stripe budget for the whole cluster: a token bucket kept in PostgreSQL.

Every worker (and any process that calls Stripe) takes its tokens from the same row of
`billing_token_buckets`, in small blocks so that a busy process pays one round trip per few
requests rather than one per request. Tokens accrue at `rate` per second up to `burst`;
a block left unused for a second is dropped, so leases never pile up into a burst. Over any
one-second window the cluster sends at most `rate + burst + processes × block` requests
(README, "Stripe rate limit"); with the defaults that is within Stripe's limits.

A 429 from Stripe drains the bucket for its `Retry-After`: every process waits, not only the
one that was refused.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# How long a leased block may be spent before it is dropped.
BLOCK_TTL_SECONDS = 1.0

_ENSURE = text(
    "INSERT INTO billing_token_buckets (name, tokens, updated_at) "
    "VALUES (:name, :burst, clock_timestamp()) ON CONFLICT (name) DO NOTHING"
)
# One atomic statement: refill by the time elapsed, grant up to a block, or say how long to
# wait for the next token.
_LEASE = text(
    """
    UPDATE billing_token_buckets b SET
        tokens = r.available - r.granted,
        updated_at = r.at
    FROM (
        SELECT s.available, LEAST(:block, GREATEST(0, floor(s.available)))::int AS granted, s.at
        FROM (
            SELECT LEAST(:burst, tokens + EXTRACT(EPOCH FROM clock_timestamp() - updated_at)
                         * :rate) AS available,
                   clock_timestamp() AS at
            FROM billing_token_buckets WHERE name = :name FOR UPDATE
        ) s
    ) r
    WHERE b.name = :name
    RETURNING r.granted, r.available
    """
)
_DRAIN = text(
    "UPDATE billing_token_buckets SET tokens = LEAST(tokens, -(:rate * :seconds)), "
    "updated_at = clock_timestamp() WHERE name = :name"
)


class SharedTokenBucket:
    """`acquire()` waits for a token of the cluster's bucket `name`."""

    def __init__(
        self, engine: AsyncEngine, name: str, rate: float, burst: float, block: int = 2
    ) -> None:
        if rate <= 0 or burst < 1 or block < 1:
            raise ValueError("rate must be positive, burst and block at least 1")
        self._engine = engine
        self.name = name
        self.rate = rate
        self.burst = burst
        self.block = block
        self._local = 0
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._ready = False

    async def acquire(self) -> float:
        """Take one token, waiting if the cluster has none; returns the seconds waited."""
        waited = 0.0
        async with self._lock:  # one lease at a time per process, waiters served in order
            while True:
                now = time.monotonic()
                if self._local > 0 and now < self._expires:
                    self._local -= 1
                    return waited
                granted, available = await self._lease()
                if granted > 0:
                    self._local, self._expires = granted, time.monotonic() + BLOCK_TTL_SECONDS
                    continue
                delay = max((1.0 - available) / self.rate, 0.005)
                waited += delay
                await asyncio.sleep(delay)

    async def pause(self, seconds: float) -> None:
        """Stripe said 429: nobody in the cluster sends for `seconds`."""
        self._local = 0
        async with self._engine.begin() as connection:
            await connection.execute(
                _DRAIN, {"name": self.name, "rate": self.rate, "seconds": seconds}
            )

    async def _lease(self) -> tuple[int, float]:
        params = {"name": self.name, "rate": self.rate, "burst": self.burst, "block": self.block}
        # Each statement is atomic on its own: autocommit spares a BEGIN and a COMMIT round
        # trip per lease.
        async with self._engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            if not self._ready:
                await autocommit.execute(_ENSURE, params)
                self._ready = True
            row = (await autocommit.execute(_LEASE, params)).one()
        return int(row.granted), float(row.available)
