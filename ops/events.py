"""`billing events`: list the ledger's unfinished events, and retry them (operators).

`billing events [--status S] [--type T] [--workspace ID]` prints id, type, status, attempts,
age and last error of every pending, processing, failed or dead row (oldest first);
`billing events retry ID… | --all-dead` re-runs them through the normal workflow id
policies (`ledger.dispatch.retry_events`), as the admin route does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import Settings
from core.db import create_db_engine, session_factory
from core.temporal_client import connect_temporal
from ledger import dispatch as starts
from ledger import events as ledger
from ledger import lookups
from models.event_admin import LedgerEventPublic

LIST_LIMIT = 1000
ERROR_CHARS = 120
# Retries of --all-dead go in chunks: bounded transactions and start bursts.
RETRY_CHUNK = 200


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _one_line(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def render(events: Sequence[LedgerEventPublic]) -> str:
    """Aligned text, one event a line; ids and errors cut to stay readable."""
    lines = [f"{'id':<32} {'type':<38} {'status':<10} {'att':>3} {'age':>7}  last error"]
    for e in events:
        lines.append(
            f"{_one_line(e.id, 32):<32} {_one_line(e.type, 38):<38} {e.status:<10} "
            f"{e.attempts:>3} {_age(e.age_seconds):>7}  {_one_line(e.last_error, ERROR_CHARS)}"
        )
    lines.append(f"{len(events)} event(s)")
    return "\n".join(lines) + "\n"


async def list_events(
    engine: AsyncEngine,
    statuses: Sequence[str],
    event_type: str | None,
    workspace_id: uuid.UUID | None,
) -> list[LedgerEventPublic]:
    async with session_factory(engine)() as session:
        rows = await lookups.unfinished(
            session,
            statuses or ledger.UNFINISHED,
            event_type=event_type,
            workspace_id=workspace_id,
            limit=LIST_LIMIT,
        )
    now = datetime.now(UTC)
    return [LedgerEventPublic.from_row(row, now) for row in rows]


async def events_command(
    settings: Settings,
    out: TextIO,
    *,
    statuses: Sequence[str] = (),
    event_type: str | None = None,
    workspace_id: uuid.UUID | None = None,
) -> int:
    engine = create_db_engine(settings.database_url, pool_size=2)
    try:
        out.write(render(await list_events(engine, statuses, event_type, workspace_id)))
    finally:
        await engine.dispose()
    return 0


async def retry_command(
    settings: Settings, out: TextIO, event_ids: Sequence[str], *, all_dead: bool
) -> int:
    """Retry the named events (or every dead one); exit 1 if any could not be re-run."""
    engine = create_db_engine(settings.database_url, pool_size=2)
    sessions = session_factory(engine)
    failed = 0
    try:
        client = await connect_temporal(settings)
        wanted = list(event_ids)
        if all_dead:
            async with sessions() as session:
                wanted += await ledger.dead_ids(session, limit=100_000)
        for start in range(0, len(wanted), RETRY_CHUNK):
            retried = await starts.retry_events(
                client,
                sessions,
                settings.temporal_task_queue,
                wanted[start : start + RETRY_CHUNK],
                max_attempts=settings.stripe_webhook_max_attempts,
            )
            for r in retried:
                ok = r.outcome in (starts.STARTED, starts.ALREADY_DONE)
                failed += 0 if ok else 1
                error = f" ({_one_line(r.error, ERROR_CHARS)})" if r.error else ""
                out.write(f"{r.event_id}: {r.outcome}, now {r.status or '-'}{error}\n")
        out.write(f"{len(wanted)} event(s) retried, {failed} not re-run\n")
    finally:
        await engine.dispose()
    return 1 if failed else 0
