"""Database work of a request: short, on its own connection, and bounded by a deadline the
client enforces.

A request never holds a connection while it waits on Temporal, Stripe or its own body: each
piece of database work is one `run_db` call that opens a session, does its statements and
closes it. The deadline (`API_DB_TIMEOUT_SECONDS`) covers the pool checkout, the connect and
the queries, and is enforced here, not by the server — a frozen PostgreSQL enforces nothing,
and even cancelling a query waits on it — so the caller gets 503 `BILLING_UNAVAILABLE` on
time while the abandoned work unwinds in the background.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import ApiError
from models.vocabulary import ErrorCode

T = TypeVar("T")
logger = logging.getLogger(__name__)

# What "the database cannot answer" looks like from here.
UNAVAILABLE = (
    TimeoutError,
    OSError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # the pool had no connection to give in time
)


def unavailable(what: str) -> ApiError:
    return ApiError(
        503,
        ErrorCode.BILLING_UNAVAILABLE,
        f"billing is temporarily unavailable ({what}); retry",
        {"Retry-After": "1"},
    )


def _forget(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.info("abandoned database work ended: %s", type(task.exception()).__name__)


async def within_deadline(work: Coroutine[Any, Any, T], seconds: float) -> T:
    """`work`'s result, or TimeoutError after `seconds` without waiting for it to unwind."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        task.add_done_callback(_forget)
        raise TimeoutError(f"no answer within {seconds}s")
    return task.result()


async def run_db(request: Request, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in a session of its own, within the request's database deadline; 503 when
    the database does not answer in time or at all."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    seconds: float = request.app.state.settings.api_db_timeout_seconds

    async def unit() -> T:
        async with sessions() as session:
            return await work(session)

    try:
        return await within_deadline(unit(), seconds)
    except UNAVAILABLE as exc:
        logger.warning("database unavailable: %s", type(exc).__name__)
        raise unavailable("database") from None
