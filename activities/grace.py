"""Grace downgrade activities: a subscription whose grace ran out unpaid loses its paid plan."""

from __future__ import annotations

import asyncio
import logging
import uuid

from sqlalchemy import text
from temporalio import activity

from activities.deps import ActivityDeps
from activities.failures import reported
from core.db import transaction
from core.metrics import GRACE_OUTCOMES
from models.failures import BillingFailure
from models.schedule_payloads import GraceBatchInput, GraceBatchResult
from rules.reconcile import apply_fresh_subscription
from rules.settlement import SettlementPolicy
from rules.subscription_state import ENTITLED

logger = logging.getLogger("billing.grace")

# Stripe calls in flight per batch; the shared token bucket sets the actual pace.
CONCURRENCY = 8

EXPIRED = text(
    """
    SELECT id, workspace_id, stripe_subscription_id FROM subscriptions
    WHERE grace_period_end <= :as_of
      AND status = ANY(:entitled)
      AND stripe_subscription_id IS NOT NULL
      AND (CAST(:after AS uuid) IS NULL OR id > CAST(:after AS uuid))
    ORDER BY id
    LIMIT :limit
    """
)


class GraceActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    async def _one(self, workspace_id: uuid.UUID, sub_id: str, input: GraceBatchInput) -> str:
        """Re-check one subscription in Stripe, then demote, clear or apply; the outcome."""
        async with transaction(self._deps.sessions) as session:
            applied = await apply_fresh_subscription(
                session,
                self._deps.gateway,
                sub_id,
                grace_days=self._deps.settings.billing_grace_days,
                as_of=input.as_of,
                settlement=SettlementPolicy.from_settings(self._deps.settings),
                workspace_hint=workspace_id,
                demote_expired_grace=True,
            )
        if applied.action in ("demoted", "unresolved"):
            return "demoted" if applied.action == "demoted" else "errors"
        if applied.action == "held":
            return "skipped"  # paid or changed under the lock meanwhile
        if applied.stripe_status in ("active", "trialing") and not applied.invoice_failing:
            return "cleared"  # paid meanwhile: grace cleared, plan kept
        return "applied_from_stripe"  # Stripe moved on (unpaid, canceled, ...)

    @activity.defn(name="grace.downgrade_batch")
    async def downgrade_batch(self, input: GraceBatchInput) -> GraceBatchResult:
        """One keyset page of entitled subscriptions whose grace ended before `as_of`."""
        limit = input.batch_size or self._deps.settings.stripe_grace_batch_size
        async with transaction(self._deps.sessions) as session:
            rows = list(
                await session.execute(
                    EXPIRED,
                    {
                        "as_of": input.as_of,
                        "after": input.after_subscription_id,
                        "limit": limit,
                        "entitled": ENTITLED,
                    },
                )
            )
        result = GraceBatchResult(examined=len(rows), has_more=len(rows) == limit)
        if rows:
            result.last_subscription_id = str(rows[-1].id)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def run(workspace_id: uuid.UUID, sub_id: str) -> None:
            async with gate:
                try:
                    outcome = await self._one(workspace_id, sub_id, input)
                except BillingFailure as exc:
                    if exc.retryable:
                        raise
                    # e.g. the subscription no longer exists in Stripe: report, keep going.
                    logger.warning("grace check of %s failed: %s", sub_id, exc.type)
                    outcome = "errors"
            GRACE_OUTCOMES.labels(outcome).inc()
            if outcome != "skipped":
                setattr(result, outcome, getattr(result, outcome) + 1)
            activity.heartbeat(sub_id)

        with reported():
            await asyncio.gather(*(run(r.workspace_id, r.stripe_subscription_id) for r in rows))
        if result.demoted:
            logger.warning("grace expired: %d subscriptions demoted", result.demoted)
        return result
