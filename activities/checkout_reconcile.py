"""Reconcile one long-pending checkout session from Stripe (seed 000: recover a missed webhook).

Stripe is asked for the session as it is now. `complete` is applied through the webhook's own
handler for `checkout.session.completed` (workspace lock, customer link, the subscription via
`apply_subscription`, the checkout row confirmed), so a late webhook later changes nothing;
`expired` marks our row expired; `open` leaves it pending. Entitlement changes only here or in
the event pipeline, never from the browser's redirect.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.failures import reported
from core.constants import CHECKOUT_RECONCILE_WORKFLOW_PREFIX
from core.db import transaction
from core.metrics import CHECKOUT_RECONCILES
from models.event_payloads import ApplyEventInput, EventHints
from models.reconcile_payloads import (
    ACTIVITY_RECONCILE_CHECKOUT,
    CHECKOUT_SESSION_UNKNOWN,
    CheckoutReconcileInput,
    CheckoutReconcileResult,
)
from rules.events import EventContext, handle_checkout_completed

logger = logging.getLogger(__name__)

COMPLETED_EVENT = "checkout.session.completed"


def _unknown(data: CheckoutReconcileInput) -> ApplicationError:
    return ApplicationError(
        f"checkout session {data.checkout_session_id} is not one of workspace "
        f"{data.workspace_id}'s",
        type=CHECKOUT_SESSION_UNKNOWN,
        non_retryable=True,
    )


class CheckoutReconcileActivities:
    """Stripe → DB finalization of one checkout session, outside any webhook."""

    def __init__(self, deps: ActivityDeps) -> None:
        self._sessions = deps.sessions
        self._gateway = deps.gateway
        self._grace_days = deps.settings.billing_grace_days

    @activity.defn(name=ACTIVITY_RECONCILE_CHECKOUT)
    async def reconcile_session(self, data: CheckoutReconcileInput) -> CheckoutReconcileResult:
        with reported():
            return await self._reconcile(data)

    async def _reconcile(self, data: CheckoutReconcileInput) -> CheckoutReconcileResult:
        workspace_id = uuid.UUID(data.workspace_id)
        checkout = await self._gateway.retrieve_checkout_session(data.checkout_session_id)
        status = checkout.get("status")
        async with transaction(self._sessions) as session:
            owner = (
                await session.execute(
                    text("SELECT workspace_id FROM checkout_sessions WHERE id = :id"),
                    {"id": data.checkout_session_id},
                )
            ).scalar()
            if owner != workspace_id:
                raise _unknown(data)
            if status == "complete":
                result = await self._confirm(session, data, workspace_id)
            elif status == "expired":
                await session.execute(
                    text(
                        "UPDATE checkout_sessions SET status = 'expired', "
                        "finalized_at = COALESCE(finalized_at, now()) "
                        "WHERE id = :id AND status = 'pending'"
                    ),
                    {"id": data.checkout_session_id},
                )
                result = CheckoutReconcileResult(
                    checkout_session_id=data.checkout_session_id, status="expired"
                )
            else:
                result = CheckoutReconcileResult(
                    checkout_session_id=data.checkout_session_id, status="pending"
                )
        CHECKOUT_RECONCILES.labels(result.status).inc()
        activity.logger.info(
            "checkout session %s reconciled from Stripe: %s",
            data.checkout_session_id,
            result.status,
            extra={"workspace_id": data.workspace_id},
        )
        return result

    async def _confirm(
        self, session: AsyncSession, data: CheckoutReconcileInput, workspace_id: uuid.UUID
    ) -> CheckoutReconcileResult:
        # The webhook's handler, fed what the lost event would have named.
        ctx = EventContext(
            session,
            self._gateway,
            ApplyEventInput(
                event_id=f"{CHECKOUT_RECONCILE_WORKFLOW_PREFIX}:{data.checkout_session_id}",
                event_type=COMPLETED_EVENT,
                hints=EventHints(
                    object_id=data.checkout_session_id, workspace_id=str(workspace_id)
                ),
            ),
            self._grace_days,
        )
        applied = await handle_checkout_completed(ctx)
        return CheckoutReconcileResult(
            checkout_session_id=data.checkout_session_id,
            status="confirmed",
            stripe_customer_id=applied.stripe_customer_id,
            stripe_subscription_id=applied.stripe_subscription_id,
            plan=applied.plan,
        )
