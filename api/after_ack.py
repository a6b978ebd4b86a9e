"""Work the webhook route hands off once Stripe has its answer: a start of the event's
workflow, run as a task of its own rather than as the response's background task.

A response's background task keeps its ASGI call open, and uvicorn reads the next request
of a keep-alive connection only when that call ends — so each delivery after the first would
wait for the previous one's `StartWorkflowExecution`. Detached, the answer and the
connection are free at once. Bounded: past `limit` starts in flight (Temporal slow or away)
a start is left to the worker's dispatcher, which starts every pending row anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger("billing.webhook")


class AfterAck:
    """Tasks started after an answer, kept referenced until done; drained at shutdown."""

    def __init__(self, limit: int = 256) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._limit = limit

    def spawn(self, work: Coroutine[Any, Any, None]) -> bool:
        """Run `work` detached; False (and `work` closed unrun) when `limit` are in flight."""
        if len(self._tasks) >= self._limit:
            work.close()
            return False
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> None:
        """Let the starts in flight finish for up to `timeout`, then cancel the rest: their
        rows are pending, and the dispatcher starts them."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            logger.info("%d post-ack starts left to the dispatcher at shutdown", len(pending))
            await asyncio.gather(*pending, return_exceptions=True)
