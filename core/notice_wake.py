"""After a new entitlements version commits, wake its workspace's notice drainer.

The rules write versions without knowing Temporal: they hand the committed changes to
`wake_committed`, which calls the waker bound for the current unit of work (a worker binds
one around every activity, see `core.notice_drainer`). Outside a worker nothing is bound and
nothing is woken here; the periodic sweep picks those notices up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# A wake never holds up the work that committed for longer than this.
WAKE_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class CommittedVersion:
    workspace_id: str
    version: int


Waker = Callable[[Sequence[CommittedVersion]], Awaitable[None]]
_WAKER: ContextVar[Waker | None] = ContextVar("billing_notice_waker", default=None)


def bind_waker(waker: Waker | None) -> Token[Waker | None]:
    return _WAKER.set(waker)


def unbind_waker(token: Token[Waker | None]) -> None:
    _WAKER.reset(token)


async def wake_committed(changes: Sequence[CommittedVersion]) -> None:
    """Best effort: a failure is logged, never raised (the commit already happened)."""
    waker = _WAKER.get()
    if waker is None or not changes:
        return
    try:
        async with asyncio.timeout(WAKE_TIMEOUT_SECONDS):
            await waker(changes)
    except Exception as exc:  # the sweep delivers what a failed wake left behind
        logger.warning("could not wake notice drainers: %s", type(exc).__name__)
