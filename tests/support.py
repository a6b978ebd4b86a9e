"""Helpers shared by the test packages: polling, SQL reads and the seeded catalog's ids."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from stripe_emulator.seed import catalog_ids, lookup_key

T = TypeVar("T")


def price_id(plan: str, interval: str = "monthly") -> str:
    """The emulator's seeded price for a plan in the tests' catalog env ("test")."""
    return catalog_ids("test")[lookup_key("test", plan, interval)]


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 20.0
) -> T:
    """Poll `probe` until `done(value)`; fail with the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.05)


async def fetch_all(
    sessions: async_sessionmaker[AsyncSession], sql: str, **params: Any
) -> list[Any]:
    async with sessions() as session:
        return list((await session.execute(text(sql), params)).all())


async def execute(sessions: async_sessionmaker[AsyncSession], sql: str, **params: Any) -> None:
    async with sessions() as session, session.begin():
        await session.execute(text(sql), params)
