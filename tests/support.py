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


async def _decode_in_place(message: Any, codec: Any) -> None:
    """Every `Payload` inside `message` (a history proto) decoded by `codec`, in place."""
    from google.protobuf.message import Message
    from temporalio.api.common.v1 import Payload

    if isinstance(message, Payload):
        [plain] = await codec.decode([message])
        message.CopyFrom(plain)
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.is_repeated:
            if field.message_type.GetOptions().map_entry:
                items = [value[key] for key in value]
            else:
                items = list(value)
            for item in items:
                if isinstance(item, Message):
                    await _decode_in_place(item, codec)
        else:
            await _decode_in_place(value, codec)


async def plaintext_history_json(handle: Any, codec: Any) -> str:
    """A finished workflow's history as JSON with its payloads decrypted: committed
    histories are plaintext, so the codec's pass-through is what their replay exercises."""
    history = await handle.fetch_history()
    for event in history.events:
        await _decode_in_place(event, codec)
    text_: str = history.to_json()
    return text_
