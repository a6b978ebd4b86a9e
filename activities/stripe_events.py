"""The event workflow's activities: claim the ledger row, apply the event, or mark it failed.

The ledger (`stripe_webhook_events`) is the dedupe of record: `claim` refuses an event that is
already completed or ignored, whatever Temporal still remembers, and `apply` marks the row
completed in the same transaction as the billing change — so an event's effect commits once.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.failures import reported
from core.db import transaction
from core.metrics import (
    UNATTRIBUTED_EVENTS,
    WEBHOOKS_DEAD,
    WEBHOOKS_FAILED,
    WEBHOOKS_PROCESSED,
    observe_event_applied,
)
from ledger import events as ledger
from models.event_payloads import (
    ACTIVITY_APPLY_EVENT,
    ACTIVITY_CLAIM_EVENT,
    ACTIVITY_FAIL_EVENT,
    ACTIVITY_PROCESS_EVENT,
    EVENT_NOT_STORED,
    AppliedState,
    ApplyEventInput,
    ClaimEventInput,
    ClaimEventResult,
    FailEventInput,
    FailEventResult,
    ProcessEventResult,
    StripeEventInput,
    event_hints,
)
from models.vocabulary import IgnoredReason, LedgerStatus
from rules.errors import NotOurs
from rules.events import HANDLERS, EventContext
from rules.settlement import SettlementPolicy


class StripeEventActivities:
    """Ledger transitions pending → processing → completed|failed, and the handlers."""

    def __init__(self, deps: ActivityDeps) -> None:
        self._sessions = deps.sessions
        self._gateway = deps.gateway
        self._grace_days = deps.settings.billing_grace_days
        self._settings = deps.settings
        self._max_attempts = deps.settings.stripe_webhook_max_attempts

    @activity.defn(name=ACTIVITY_CLAIM_EVENT)
    async def claim_event(self, data: ClaimEventInput) -> ClaimEventResult:
        """Mark the row `processing` (attempts + 1) unless it is already completed/ignored."""
        async with transaction(self._sessions) as session:
            proceed, row = await ledger.claim(session, data.event_id)
        if row is None:
            raise ApplicationError(
                f"event {data.event_id} is not in the ledger",
                type=EVENT_NOT_STORED,
                non_retryable=True,
            )
        return ClaimEventResult(
            proceed=proceed,
            status=row.status,
            attempts=row.attempts,
            event_type=row.type,
            hints=event_hints(row.payload or {}),
        )

    @activity.defn(name=ACTIVITY_PROCESS_EVENT)
    async def process_event(self, data: StripeEventInput) -> ProcessEventResult:
        """Claim the row and apply the event: one activity, one claim round trip and one
        transaction. A retry of the same run does not count another attempt."""
        proceed, row = await ledger.claim_at_once(
            self._sessions, data.event_id, count_attempt=activity.info().attempt == 1
        )
        if row is None:
            raise ApplicationError(
                f"event {data.event_id} is not in the ledger",
                type=EVENT_NOT_STORED,
                non_retryable=True,
            )
        if not proceed:
            return ProcessEventResult(proceed=False)
        hints = event_hints(row.payload or {})
        applied = await self._apply(
            ApplyEventInput(event_id=data.event_id, event_type=row.type, hints=hints)
        )
        return ProcessEventResult(proceed=True, hints=hints, applied=applied)

    @activity.defn(name=ACTIVITY_APPLY_EVENT)
    async def apply_event(self, data: ApplyEventInput) -> AppliedState:
        """Re-fetch from Stripe, apply under the workspace lock, mark the row completed."""
        return await self._apply(data)

    async def _apply(self, data: ApplyEventInput) -> AppliedState:
        handler = HANDLERS.get(data.event_type)
        try:
            with reported():
                async with transaction(self._sessions) as session:
                    if handler is None:
                        applied = AppliedState(note=f"unhandled type {data.event_type}")
                    else:
                        ctx = EventContext(
                            session,
                            self._gateway,
                            data,
                            self._grace_days,
                            SettlementPolicy.from_settings(self._settings),
                        )
                        applied = await handler(ctx)
                    await ledger.mark_completed(
                        session, data.event_id, applied.workspace_id, data.hints.object_id
                    )
        except NotOurs as not_ours:
            # Final without effect: another product's object, or one whose only tie to a
            # workspace is metadata anyone can write. Never retried.
            async with transaction(self._sessions) as session:
                await ledger.mark_ignored(
                    session, data.event_id, IgnoredReason.NOT_OURS, object_id=data.hints.object_id
                )
            UNATTRIBUTED_EVENTS.labels(data.event_type).inc()
            return AppliedState(note=f"not ours: {not_ours}")
        WEBHOOKS_PROCESSED.labels(data.event_type).inc()
        observe_event_applied(data.event_type, data.hints.created)
        return applied

    @activity.defn(name=ACTIVITY_FAIL_EVENT)
    async def fail_event(self, data: FailEventInput) -> FailEventResult:
        """Given up: the row says `failed` with the error, re-run by replay after a backoff,
        or `dead` once STRIPE_WEBHOOK_MAX_ATTEMPTS attempts failed (kept for an operator)."""
        async with transaction(self._sessions) as session:
            status = await ledger.mark_failed(
                session, data.event_id, data.error, max_attempts=self._max_attempts
            )
        WEBHOOKS_FAILED.labels(data.event_type).inc()
        if status == LedgerStatus.DEAD:
            WEBHOOKS_DEAD.labels(data.event_type).inc()
        return FailEventResult(marked=status is not None)
