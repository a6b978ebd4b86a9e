"""The worker's dispatcher: every stored event's workflow starts within seconds, whatever
happened to the start the API attempts right after its answer.

The webhook route answers once the row is committed and starts `stripe-event:{id}` after the
answer. When that start is lost — Temporal was down, the API process died — the row stays
`pending`. The dispatcher, in the worker, LISTENs on the ledger's channel (every new pending
row NOTIFYs it) and sweeps pending rows older than a short grace (the API's own start gets
that long) through `ledger.dispatch`, with the same workflow id and id policies as every
other path, so a row is started once whoever wins. One worker at a time sweeps: the one
holding a session-level advisory lock; another takes over when it goes away. The 5-minute
replay sweep stays the last net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import psycopg
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from ledger import dispatch as starts
from ledger import events as ledger
from models.schedule_payloads import DispatchResult

logger = logging.getLogger("billing.dispatcher")

# The API starts a row right after its answer; the dispatcher leaves it that long first.
GRACE_SECONDS = 1.0
# With nothing announced, a sweep this often anyway (a NOTIFY can be missed on reconnect).
IDLE_SWEEP_SECONDS = 5.0
# While rows wait and Temporal refuses or is down, the next try comes this soon.
RETRY_SECONDS = 1.0
BATCH = 500
# A row this dispatcher started is not started again for this long (its workflow may not
# have claimed it yet); the replay sweep covers it after 30 s whatever happens.
RECENT_SECONDS = 20.0
_LEADER = "SELECT pg_try_advisory_lock(hashtext('billing-ledger-dispatcher'))"


class Dispatcher:
    """`run()` until `stop` is set: listen, sweep, start."""

    def __init__(
        self,
        database_url: str,
        sessions: async_sessionmaker[AsyncSession],
        client: Client,
        task_queue: str,
        max_attempts: int,
    ) -> None:
        self._url = database_url
        self._sessions = sessions
        self._client = client
        self._task_queue = task_queue
        self._max_attempts = max_attempts
        self._recent: dict[str, float] = {}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._serve(stop)
            except (psycopg.Error, OSError) as exc:  # the database went away: try again
                logger.warning("dispatcher lost its connection: %s", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_SECONDS)

    async def _serve(self, stop: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
            while not (await (await conn.execute(_LEADER)).fetchone() or (False,))[0]:
                # Another worker dispatches; take over if it goes away.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), IDLE_SWEEP_SECONDS)
                if stop.is_set():
                    return
            await conn.execute(f"LISTEN {ledger.CHANNEL}")
            logger.info("dispatcher leading: listening on %s", ledger.CHANNEL)
            wait = 0.0
            while not stop.is_set():
                woken = await self._wait(conn, stop, wait)
                if woken:
                    # Give the API's own start its moment before looking.
                    await asyncio.sleep(GRACE_SECONDS)
                wait = await self.sweep()

    async def _wait(self, conn: psycopg.AsyncConnection, stop: asyncio.Event, wait: float) -> bool:
        """Until a NOTIFY, `stop` or `wait` seconds (the idle period when 0); True if woken."""
        timeout = wait or IDLE_SWEEP_SECONDS
        gen = conn.notifies(timeout=timeout)
        try:
            async for _ in gen:
                return True
        finally:
            await gen.aclose()
        return False

    async def sweep(self) -> float:
        """Start every pending row past the grace that was not started lately; the seconds
        until the next sweep is due (0: wait for a NOTIFY or the idle period)."""
        now = time.monotonic()
        self._recent = {k: t for k, t in self._recent.items() if t > now}
        async with self._sessions() as session:
            rows = await ledger.unstarted(session, grace_seconds=GRACE_SECONDS, limit=BATCH)
        due = [(r.id, r.type, r.status) for r in rows if r.id not in self._recent]
        if not due:
            return RETRY_SECONDS if len(rows) == BATCH else 0.0
        # The oldest first, alone: while Temporal is away, one failed RPC per try, not 500.
        probe = await self._dispatch(due[:1])
        if probe.start_unavailable:
            return RETRY_SECONDS
        rest = await self._dispatch(due[1:]) if len(due) > 1 else probe
        started = probe.dispatched + (rest.dispatched if rest is not probe else 0)
        if started:
            logger.info("dispatcher started %d stored events", started)
        # A started row stays pending until its workflow claims it: leave it to Temporal.
        for event_id, _, _ in due:
            self._recent[event_id] = now + RECENT_SECONDS
        if rest.start_unavailable or len(rows) == BATCH:
            return RETRY_SECONDS
        return 0.0

    async def _dispatch(self, events: list[tuple[str, str, str]]) -> DispatchResult:
        done = await starts.dispatch(
            self._client, self._sessions, self._task_queue, events, max_attempts=self._max_attempts
        )
        return done.result
