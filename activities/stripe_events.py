"""The event workflow's activities: claim the ledger row, apply the event, or mark it failed.

The ledger (`stripe_webhook_events`) is the dedupe of record: `claim` refuses an event that is
already completed or ignored, whatever Temporal still remembers, and `apply` marks the row
completed in the same transaction as the billing change — so an event's effect commits once.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.event_metrics import WEBHOOKS_FAILED, WEBHOOKS_PROCESSED
from core.db import transaction
from core.metrics import observe_event_applied
from core.stripe_gateway import shared_gateway
from models.event_payloads import (
    ACTIVITY_APPLY_EVENT,
    ACTIVITY_CLAIM_EVENT,
    ACTIVITY_FAIL_EVENT,
    EVENT_NOT_STORED,
    AppliedState,
    ApplyEventInput,
    ClaimEventInput,
    ClaimEventResult,
    FailEventInput,
    FailEventResult,
    event_hints,
)
from rules.events import HANDLERS, EventContext

# The longest last_error kept on the row: enough to diagnose, never a whole payload.
MAX_ERROR_CHARS = 2000


class StripeEventActivities:
    """Ledger transitions pending → processing → completed|failed, and the handlers."""

    def __init__(self, deps: ActivityDeps) -> None:
        self._sessions = deps.sessions
        self._gateway = shared_gateway(deps)
        self._grace_days = deps.settings.billing_grace_days

    @activity.defn(name=ACTIVITY_CLAIM_EVENT)
    async def claim_event(self, data: ClaimEventInput) -> ClaimEventResult:
        """Mark the row `processing` (attempts + 1) unless it is already completed/ignored."""
        async with transaction(self._sessions) as session:
            row = (
                await session.execute(
                    text(
                        "UPDATE stripe_webhook_events SET status = 'processing', "
                        "attempts = attempts + 1, processing_started_at = now(), "
                        "next_attempt_at = NULL WHERE id = :id "
                        "AND status NOT IN ('completed', 'ignored') "
                        "RETURNING status, attempts, type, payload"
                    ),
                    {"id": data.event_id},
                )
            ).first()
            proceed = row is not None
            if row is None:
                row = (
                    await session.execute(
                        text(
                            "SELECT status, attempts, type, payload FROM stripe_webhook_events "
                            "WHERE id = :id"
                        ),
                        {"id": data.event_id},
                    )
                ).first()
        if row is None:
            raise ApplicationError(
                f"event {data.event_id} is not in the ledger", type=EVENT_NOT_STORED,
                non_retryable=True,
            )
        return ClaimEventResult(
            proceed=proceed,
            status=row.status,
            attempts=row.attempts,
            event_type=row.type,
            hints=event_hints(row.payload or {}),
        )

    @activity.defn(name=ACTIVITY_APPLY_EVENT)
    async def apply_event(self, data: ApplyEventInput) -> AppliedState:
        """Re-fetch from Stripe, apply under the workspace lock, mark the row completed."""
        handler = HANDLERS.get(data.event_type)
        async with transaction(self._sessions) as session:
            if handler is None:
                applied = AppliedState(note=f"unhandled type {data.event_type}")
            else:
                ctx = EventContext(session, self._gateway, data, self._grace_days)
                applied = await handler(ctx)
            await session.execute(
                text(
                    "UPDATE stripe_webhook_events SET status = 'completed', "
                    "processed_at = clock_timestamp(), "
                    "last_error = NULL, processing_started_at = NULL, "
                    "workspace_id = COALESCE(CAST(:w AS uuid), workspace_id), "
                    "stripe_object_id = COALESCE(:o, stripe_object_id) WHERE id = :id"
                ),
                {
                    "id": data.event_id,
                    "w": uuid.UUID(applied.workspace_id) if applied.workspace_id else None,
                    "o": data.hints.object_id,
                },
            )
        WEBHOOKS_PROCESSED.labels(data.event_type).inc()
        observe_event_applied(data.event_type, data.hints.created)
        return applied

    @activity.defn(name=ACTIVITY_FAIL_EVENT)
    async def fail_event(self, data: FailEventInput) -> FailEventResult:
        """Given up: the row says `failed` with the error, visible and re-runnable by replay."""
        async with transaction(self._sessions) as session:
            marked = await session.execute(
                text(
                    "UPDATE stripe_webhook_events SET status = 'failed', last_error = :error, "
                    "processing_started_at = NULL, next_attempt_at = now() "
                    "+ make_interval(mins => power(2, LEAST(attempts, 6))::int) "
                    "WHERE id = :id AND status <> 'completed' RETURNING id"
                ),
                {"id": data.event_id, "error": data.error[:MAX_ERROR_CHARS]},
            )
            done = marked.first() is not None
        WEBHOOKS_FAILED.labels(data.event_type).inc()
        return FailEventResult(marked=done)
