"""Cleanup activities: delete old finished webhook rows and long-expired idempotency keys.

An expired Idempotency-Key row is kept STRIPE_IDEMPOTENCY_RETENTION_DAYS more: while it
exists, a reuse of the key is answered 422 IDEMPOTENCY_KEY_EXPIRED; without it the key would
look new and could join the old checkout's closed workflow. `dead` ledger rows are never
deleted here: they wait for an operator.
"""

from __future__ import annotations

from sqlalchemy import text
from temporalio import activity

from activities.deps import ActivityDeps
from core.db import transaction
from ledger import events as ledger
from models.schedule_payloads import CleanupBatchInput, CleanupBatchResult

# Bounded: short locks, and a crash loses at most one batch's work.
DELETE_EXPIRED_IDEMPOTENCY = text(
    """
    DELETE FROM stripe_checkout_idempotency
    WHERE id IN (
        SELECT id FROM stripe_checkout_idempotency
        WHERE expires_at < now() - make_interval(days => :keep_days)
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
)


class CleanupActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    @activity.defn(name="cleanup_delete_batch")
    async def delete_batch(self, input: CleanupBatchInput) -> CleanupBatchResult:
        """Delete at most `batch_size` rows of each kind; never an unfinished or dead event."""
        settings = self._deps.settings
        days = input.retention_days or settings.stripe_webhook_retention_days
        keep_keys = settings.stripe_idempotency_retention_days
        async with transaction(self._deps.sessions) as session:
            events = await ledger.delete_finished(
                session, older_than_days=days, limit=input.batch_size
            )
            keys = await session.execute(
                DELETE_EXPIRED_IDEMPOTENCY, {"limit": input.batch_size, "keep_days": keep_keys}
            )
        return CleanupBatchResult(
            webhook_events_deleted=events,
            idempotency_deleted=keys.rowcount or 0,  # type: ignore[attr-defined]
        )
