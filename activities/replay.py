"""Replay activities: find ledger rows nobody is processing and (re)start their event workflows."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio import activity

from activities.deps import ActivityDeps
from core.db import transaction
from ledger import dispatch as starts
from ledger import events as ledger
from models.schedule_payloads import (
    DispatchInput,
    DispatchResult,
    DueEvent,
    DueEventsInput,
    DueEventsResult,
)

logger = logging.getLogger("billing.replay")

# The webhook route stores, then starts within milliseconds: a younger pending row is its job.
PENDING_MIN_AGE = timedelta(seconds=30)
# Characters of ids and types in one batch: a payload well under Temporal's 2 MB blob limit.
MAX_BATCH_ID_CHARS = 256 * 1024


class ReplayActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    @activity.defn(name="replay.due_events")
    async def due_events(self, input: DueEventsInput) -> DueEventsResult:
        """Rows that are pending (unstarted), failed (due again) or claimed too long ago."""
        settings = self._deps.settings
        limit = input.batch_size or settings.stripe_retry_batch_size
        async with transaction(self._deps.sessions) as session:
            rows = await ledger.due_events(
                session,
                pending_age_seconds=PENDING_MIN_AGE.total_seconds(),
                claim_ttl_seconds=settings.stripe_webhook_claim_ttl_seconds,
                after_received_at=input.after_received_at,
                after_id=input.after_id,
                limit=limit,
            )
        events: list[DueEvent] = []
        size = 0
        for r in rows:
            events.append(
                DueEvent(id=r.id, type=r.type, status=r.status, received_at=r.received_at)
            )
            size += len(r.id) + len(r.type)
            if size > MAX_BATCH_ID_CHARS:
                # Rows stored before the door checked ids may hold huge ones: keep the payload
                # far below Temporal's blob limit; the keyset resumes after the last row.
                return DueEventsResult(events=events, has_more=True)
        return DueEventsResult(events=events, has_more=len(rows) == limit)

    @activity.defn(name="replay.dispatch")
    async def dispatch(self, input: DispatchInput) -> DispatchResult:
        """(Re)start each event's workflow through the worker's own Temporal client; a start
        that fails is recorded on its row and counted, never a failure of the batch."""
        settings = self._deps.settings
        result = await starts.dispatch_events(
            activity.client(),
            self._deps.sessions,
            settings.temporal_task_queue,
            [(e.id, e.type, e.status) for e in input.events],
            max_attempts=settings.stripe_webhook_max_attempts,
        )
        if result.stale_claims:
            logger.warning("replay reclaimed %d stale processing claims", result.stale_claims)
        return result
