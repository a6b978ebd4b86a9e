"""Database engines: one async engine per process, created by its entry point and injected."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import TextClause
from sqlmodel.ext.asyncio.session import AsyncSession


def sqlalchemy_url(database_url: str) -> str:
    """Accept plain `postgresql://` URLs and pin the psycopg 3 driver."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def create_db_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int | None = None,
    timeout_seconds: float | None = None,
    idle_in_transaction_seconds: float | None = None,
) -> AsyncEngine:
    """An engine with its limits: `timeout_seconds` bounds the pool checkout and the connect;
    `idle_in_transaction_seconds` makes PostgreSQL end a transaction left idle that long, so
    a stuck client cannot hold locks or a connection forever."""
    options = []
    if idle_in_transaction_seconds is not None:
        ms = int(idle_in_transaction_seconds * 1000)
        options.append(f"-c idle_in_transaction_session_timeout={ms}")
    connect_args: dict[str, object] = {}
    if options:
        connect_args["options"] = " ".join(options)
    if timeout_seconds is not None:
        connect_args["connect_timeout"] = max(1, math.ceil(timeout_seconds))
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_timeout=30 if timeout_seconds is None else timeout_seconds,
        connect_args=connect_args,
        # No pre-ping: it costs a round trip per checkout on the webhook hot path; a dropped
        # connection is invalidated on its first error and the caller retries (Stripe, Temporal).
        pool_recycle=1800,
        # An error's text never carries the statement's values (customer ids, emails).
        hide_parameters=True,
    )


def libpq_url(database_url: str) -> str:
    """The URL as libpq (psycopg itself) takes it, for connections outside SQLAlchemy."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False
    )


def create_sync_engine(database_url: str) -> Engine:
    """A pool-less engine for one-shot work (migrations, CLI commands)."""
    return create_engine(sqlalchemy_url(database_url), poolclass=NullPool, hide_parameters=True)


async def ping(engine: AsyncEngine) -> None:
    """One `SELECT 1` round trip (readiness); raises when the database cannot answer."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


# `session.info` keys of work that runs at the end of a `transaction`.
BEFORE_COMMIT = "before_commit"
AFTER_COMMIT = "after_commit"
_DEFERRED = "deferred_writes"


async def defer(session: AsyncSession, statement: TextClause, params: dict[str, Any]) -> None:
    """A write whose result nobody reads: inside `transaction` it is sent with the commit
    itself, in one pipelined round trip, after every other statement and before-commit
    hook, in the order deferred; elsewhere it runs at once."""
    deferred: list[tuple[TextClause, dict[str, Any]]] | None = session.info.get(_DEFERRED)
    if deferred is None:
        await session.execute(statement, params)
    else:
        deferred.append((statement, params))


async def _commit_pipelined(
    session: AsyncSession, writes: list[tuple[TextClause, dict[str, Any]]]
) -> None:
    """Send `writes` and COMMIT without waiting between them: one round trip. An error in
    any of them aborts the transaction and raises here, so nothing of it commits."""
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    assert isinstance(raw, psycopg.AsyncConnection)
    dialect = connection.dialect
    try:
        async with raw.pipeline(), raw.cursor() as cursor:
            for statement, params in writes:
                compiled = statement.compile(dialect=dialect)
                await cursor.execute(str(compiled), compiled.construct_params(params))
            # The COMMIT rides the same pipeline, answered at its one Sync; the session's
            # own commit then finds the connection idle and sends nothing.
            await cursor.execute("COMMIT")
    except psycopg.Error as exc:  # the same exception types as any statement's failure
        raise DBAPIError.instance(
            None, None, exc, psycopg.Error, hide_parameters=True, dialect=dialect
        ) from exc


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any exception. Work registered in
    `session.info["before_commit"]` runs last, right before the commit (e.g. the one write
    to the main application's `workspaces` row, so its lock is held only that long); writes
    passed to `defer` go out with the COMMIT; work in `session.info["after_commit"]` (no
    arguments) runs once the commit succeeded."""
    async with sessions() as session:
        session.info[_DEFERRED] = []
        async with session.begin():
            yield session
            for hook in session.info.pop(BEFORE_COMMIT, []):
                await hook(session)
            writes = session.info.pop(_DEFERRED)
            if writes:
                await _commit_pipelined(session, writes)
        for after in session.info.pop(AFTER_COMMIT, []):
            await after()
