"""Replay activities: find ledger rows nobody is processing and (re)start their event workflows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import text
from temporalio import activity
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.deps import ActivityDeps
from core.constants import SA_STRIPE_EVENT_TYPE, event_workflow_id
from core.db import transaction
from models.event_payloads import StripeEventInput
from models.schedule_payloads import (
    DispatchInput,
    DispatchResult,
    DueEvent,
    DueEventsInput,
    DueEventsResult,
)

logger = logging.getLogger("billing.replay")

EVENT_WORKFLOW = "StripeEventWorkflow"
# The webhook route stores, then starts within milliseconds: a younger pending row is its job.
PENDING_MIN_AGE = timedelta(seconds=30)
# Concurrent start RPCs per activity: fast, yet far below the server's limits.
START_CONCURRENCY = 20

DUE_EVENTS = text(
    """
    SELECT id, type, status, received_at FROM stripe_webhook_events
    WHERE (
        (status = 'pending' AND received_at < now() - make_interval(secs => :pending_age))
        OR (status = 'failed' AND (next_attempt_at IS NULL OR next_attempt_at <= now()))
        OR (status = 'processing'
            AND COALESCE(processing_started_at, received_at)
                < now() - make_interval(secs => :claim_ttl))
    )
    AND (CAST(:after_at AS timestamptz) IS NULL
         OR (received_at, id) > (CAST(:after_at AS timestamptz), CAST(:after_id AS text)))
    ORDER BY received_at, id
    LIMIT :limit
    """
)


async def start_event_workflow(
    client: Client, task_queue: str, event_id: str, event_type: str, *, rerun_closed: bool = False
) -> bool:
    """Start `stripe-event:{id}` exactly as the webhook route does; False if already closed.

    The id is the dedupe: a running workflow is joined (USE_EXISTING), a failed one re-run.
    `rerun_closed` also re-runs a workflow that completed while its row still says `failed`,
    because the ledger, not Temporal's history, says whether an event was applied.
    """
    reuse = (
        WorkflowIDReusePolicy.ALLOW_DUPLICATE
        if rerun_closed
        else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
    )
    try:
        await client.start_workflow(
            EVENT_WORKFLOW,
            StripeEventInput(event_id=event_id, event_type=event_type),
            id=event_workflow_id(event_id),
            task_queue=task_queue,
            id_reuse_policy=reuse,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(SA_STRIPE_EVENT_TYPE, event_type)]
            ),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def dispatch_events(
    client: Client, task_queue: str, events: Sequence[tuple[str, str, str]]
) -> DispatchResult:
    """Start the workflow of each (id, type, status) with bounded concurrency."""
    result = DispatchResult()
    gate = asyncio.Semaphore(START_CONCURRENCY)

    async def one(event_id: str, event_type: str, status: str) -> None:
        async with gate:
            started = await start_event_workflow(client, task_queue, event_id, event_type)
            if not started and status == "failed":
                started = await start_event_workflow(
                    client, task_queue, event_id, event_type, rerun_closed=True
                )
        if started:
            result.dispatched += 1
        else:
            result.already_done += 1
        if status == "processing":
            result.stale_claims += 1

    await asyncio.gather(*(one(*event) for event in events))
    return result


class ReplayActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    @activity.defn(name="replay.due_events")
    async def due_events(self, input: DueEventsInput) -> DueEventsResult:
        """Rows that are pending (unstarted), failed (due again) or claimed too long ago."""
        settings = self._deps.settings
        limit = input.batch_size or settings.stripe_retry_batch_size
        async with transaction(self._deps.sessions) as session:
            rows = await session.execute(
                DUE_EVENTS,
                {
                    "pending_age": PENDING_MIN_AGE.total_seconds(),
                    "claim_ttl": settings.stripe_webhook_claim_ttl_seconds,
                    "after_at": input.after_received_at,
                    "after_id": input.after_id,
                    "limit": limit,
                },
            )
            events = [
                DueEvent(id=r.id, type=r.type, status=r.status, received_at=r.received_at)
                for r in rows
            ]
        return DueEventsResult(events=events, has_more=len(events) == limit)

    @activity.defn(name="replay.dispatch")
    async def dispatch(self, input: DispatchInput) -> DispatchResult:
        """(Re)start each event's workflow through the worker's own Temporal client."""
        result = await dispatch_events(
            activity.client(),
            self._deps.settings.temporal_task_queue,
            [(e.id, e.type, e.status) for e in input.events],
        )
        if result.stale_claims:
            logger.warning("replay reclaimed %d stale processing claims", result.stale_claims)
        return result
