"""Event ids whose workflow this API process started recently: duplicates skip Temporal.

Stripe redelivers an event while its workflow is still pending or running; starting it
again would only be answered "already running" by Temporal, at the cost of an RPC on the
ack path. A started workflow ends by completing or failing its ledger row, and a `failed`
row is always started again, so skipping is safe; a row whose workflow was lost is swept by
the replay schedule after 30 s whatever this cache says.
"""

from __future__ import annotations

import time
from collections import OrderedDict


class RecentlyStarted:
    """A bounded, time-limited set of event ids (oldest evicted first)."""

    def __init__(self, capacity: int = 50_000, ttl_seconds: float = 600.0) -> None:
        self._ids: OrderedDict[str, float] = OrderedDict()
        self._capacity = capacity
        self._ttl = ttl_seconds

    def add(self, event_id: str) -> None:
        self._ids[event_id] = time.monotonic() + self._ttl
        self._ids.move_to_end(event_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)

    def __contains__(self, event_id: object) -> bool:
        expires = self._ids.get(event_id) if isinstance(event_id, str) else None
        if expires is None:
            return False
        if expires < time.monotonic():
            del self._ids[event_id]  # type: ignore[arg-type]
            return False
        return True
