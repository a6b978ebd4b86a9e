"""Signal-with-start of `entitlements-notices:{workspace}`, and the worker interceptor that
binds it as the waker of every activity (so a version committed there wakes its drainer)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from core.config import Settings
from core.constants import SA_WORKSPACE_ID, entitlement_notices_workflow_id
from core.notice_wake import CommittedVersion, bind_waker, unbind_waker
from models.entitlement_payloads import NOTICE_WORKFLOW, WAKE_SIGNAL, NoticeDrainInput

# Signal-with-starts in flight at once when many workspaces changed together.
WAKE_CONCURRENCY = 16


async def wake_drainer(
    client: Client, task_queue: str, workspace_id: str, attempt_timeout_seconds: float
) -> None:
    """Start the workspace's drainer, or signal the running one: one drainer per workspace."""
    await client.start_workflow(
        NOTICE_WORKFLOW,
        NoticeDrainInput(
            workspace_id=workspace_id, attempt_timeout_seconds=attempt_timeout_seconds
        ),
        id=entitlement_notices_workflow_id(workspace_id),
        task_queue=task_queue,
        start_signal=WAKE_SIGNAL,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(SA_WORKSPACE_ID, workspace_id)]
        ),
    )


async def wake_drainers(
    client: Client, task_queue: str, workspace_ids: Iterable[str], attempt_timeout_seconds: float
) -> int:
    """Wake each workspace's drainer once; how many were woken."""
    gate = asyncio.Semaphore(WAKE_CONCURRENCY)
    unique = sorted(set(workspace_ids))

    async def one(workspace_id: str) -> None:
        async with gate:
            await wake_drainer(client, task_queue, workspace_id, attempt_timeout_seconds)

    await asyncio.gather(*(one(w) for w in unique))
    return len(unique)


class NoticeWakeInterceptor(Interceptor):
    """Every activity of this worker wakes the drainers of the versions it committed, through
    the worker's own client and task queue. Nothing is bound without APP_WEBHOOK_URL."""

    def __init__(self, settings: Settings) -> None:
        self._enabled = bool(settings.app_webhook_url)
        self._timeout = settings.app_webhook_timeout_seconds

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _WakeInbound(next, self._enabled, self._timeout)


class _WakeInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, enabled: bool, timeout: float) -> None:
        super().__init__(next)
        self._enabled = enabled
        self._timeout = timeout

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        if not self._enabled:
            return await super().execute_activity(input)
        try:
            client, task_queue = activity.client(), activity.info().task_queue
        except RuntimeError:  # a `def` activity has no client: the sweep covers it
            return await super().execute_activity(input)

        async def wake(changes: Sequence[CommittedVersion]) -> None:
            await wake_drainers(
                client, task_queue, (c.workspace_id for c in changes), self._timeout
            )

        token = bind_waker(wake)
        try:
            return await super().execute_activity(input)
        finally:
            unbind_waker(token)
