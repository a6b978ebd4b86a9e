"""Per-workspace limits on starting checkout and portal workflows, shared by every API process.

A fixed one-minute window per key, counted in PostgreSQL in one statement, so one owner
(or a script holding their token) cannot start unbounded workflows, each with Stripe calls.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

WINDOW = timedelta(minutes=1)
_COUNT = text(
    """
    INSERT INTO billing_rate_limits AS r (key, window_start, count)
    VALUES (:key, date_trunc('minute', now()), 1)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN r.window_start = date_trunc('minute', now()) THEN r.count + 1 ELSE 1 END,
        window_start = date_trunc('minute', now())
    RETURNING r.count AS n, r.window_start, now() AS at
    """
)


async def take_start(session: AsyncSession, key: str, per_minute: int) -> int | None:
    """Count one start of `key` (committed); None when allowed, else the seconds until the
    window turns (the `Retry-After`)."""
    row = (await session.execute(_COUNT, {"key": key})).one()
    await session.commit()
    if row.n <= per_minute:
        return None
    window_end: datetime = row.window_start + WINDOW
    return max(1, math.ceil((window_end - row.at).total_seconds()))
