"""`api.after_ack.AfterAck`: post-ack starts run detached, bounded, and are drained or
cancelled at shutdown (their rows stay pending for the dispatcher)."""

from __future__ import annotations

import asyncio
import inspect

from api.after_ack import AfterAck


async def test_starts_beyond_the_limit_are_left_unrun() -> None:
    after_ack = AfterAck(limit=2)
    release = asyncio.Event()
    ran: list[int] = []

    async def start(n: int) -> None:
        await release.wait()
        ran.append(n)

    assert after_ack.spawn(start(1)) and after_ack.spawn(start(2))
    third = start(3)
    assert after_ack.spawn(third) is False
    assert inspect.getcoroutinestate(third) == inspect.CORO_CLOSED  # never runs, never warns
    release.set()
    await after_ack.drain(timeout=1.0)
    assert sorted(ran) == [1, 2] and len(after_ack) == 0
    assert after_ack.spawn(start(4))  # room again once the others finished
    await after_ack.drain(timeout=1.0)
    assert sorted(ran) == [1, 2, 4]


async def test_shutdown_cancels_what_outlives_the_drain() -> None:
    after_ack = AfterAck()
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    after_ack.spawn(stuck())
    await asyncio.sleep(0)
    await after_ack.drain(timeout=0.05)
    assert cancelled.is_set() and len(after_ack) == 0
