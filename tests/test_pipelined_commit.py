"""`core.db.transaction`: writes passed to `defer` go out with the COMMIT in one round trip,
in order, after every other statement — and a failing one takes the whole transaction with
it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.wire import counting_proxy
from core.db import create_db_engine, defer, session_factory, transaction
from tests.support import execute, fetch_all

_TABLE = "CREATE TABLE IF NOT EXISTS pipelined_probe (id uuid PRIMARY KEY, step int NOT NULL)"
_INSERT = text("INSERT INTO pipelined_probe (id, step) VALUES (:id, :step)")
_BUMP = text("UPDATE pipelined_probe SET step = step * 10 + :digit WHERE id = :id")


async def _rows(sessions: async_sessionmaker[AsyncSession], key: uuid.UUID) -> list[int]:
    found = await fetch_all(sessions, "SELECT step FROM pipelined_probe WHERE id = :id", id=key)
    return [row.step for row in found]


async def test_deferred_writes_commit_after_the_rest_in_their_order(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await execute(sessions, _TABLE)
    key = uuid.uuid4()
    async with counting_proxy(database_url) as (url, wire):
        engine = create_db_engine(url, pool_size=1)
        try:
            counted = session_factory(engine)
            async with transaction(counted) as session:  # opens the pool's connection
                await session.execute(text("SELECT 1"))
            before = wire.count
            async with transaction(counted) as session:
                await session.execute(_INSERT, {"id": key, "step": 1})
                await defer(session, _BUMP, {"id": key, "digit": 2})
                await defer(session, _BUMP, {"id": key, "digit": 3})
                # Deferred: not sent yet, so this read still sees the first value.
                step = (await session.execute(text("SELECT step FROM pipelined_probe "
                                                   "WHERE id = :id"), {"id": key})).scalar()
                assert step == 1
            spent = wire.count - before
        finally:
            await engine.dispose()
    assert await _rows(sessions, key) == [123]
    # BEGIN, the INSERT, the SELECT, then the two deferred writes with the COMMIT.
    assert spent == 4


async def test_a_failing_deferred_write_rolls_the_whole_transaction_back(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await execute(sessions, _TABLE)
    key, taken = uuid.uuid4(), uuid.uuid4()
    await execute(sessions, "INSERT INTO pipelined_probe (id, step) VALUES (:id, 0)", id=taken)
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as session:
            await session.execute(_INSERT, {"id": key, "step": 1})
            await defer(session, _INSERT, {"id": taken, "step": 1})  # a duplicate key
    assert await _rows(sessions, key) == []
    # The session's connection is usable again.
    async with transaction(sessions) as session:
        await session.execute(_INSERT, {"id": key, "step": 5})
    assert await _rows(sessions, key) == [5]


async def test_outside_a_transaction_a_deferred_write_runs_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await execute(sessions, _TABLE)
    key = uuid.uuid4()
    async with sessions() as session, session.begin():
        await session.execute(_INSERT, {"id": key, "step": 4})
        await defer(session, _BUMP, {"id": key, "digit": 2})
        step = (await session.execute(text("SELECT step FROM pipelined_probe WHERE id = :id"),
                                      {"id": key})).scalar()
        assert step == 42
