"""Reconcile one long-pending checkout session from Stripe (seed 000: recover a missed webhook).

Stripe is asked for the session as it is now, through the webhook's own handler (workspace
lock, customer link, the subscription applied, the checkout row moved to what Stripe says:
confirmed once paid, pending while the payment settles, failed or expired), so a late
webhook later changes nothing. Entitlement changes only here or in
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
from models.vocabulary import CheckoutStatus
from rules.events import EventContext, handle_checkout_session
from rules.settlement import SettlementPolicy

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
        self._settings = deps.settings

    @activity.defn(name=ACTIVITY_RECONCILE_CHECKOUT)
    async def reconcile_session(self, data: CheckoutReconcileInput) -> CheckoutReconcileResult:
        with reported():
            return await self._reconcile(data)

    async def _reconcile(self, data: CheckoutReconcileInput) -> CheckoutReconcileResult:
        workspace_id = uuid.UUID(data.workspace_id)
        async with transaction(self._sessions) as session:
            if await _owner(session, data.checkout_session_id) != workspace_id:
                raise _unknown(data)
            # The webhook's handler, fed what the lost event would have named.
            ctx = EventContext(
                session,
                self._gateway,
                ApplyEventInput(
                    event_id=f"{CHECKOUT_RECONCILE_WORKFLOW_PREFIX}:{data.checkout_session_id}",
                    event_type=COMPLETED_EVENT,
                    hints=EventHints(object_id=data.checkout_session_id),
                ),
                self._grace_days,
                SettlementPolicy.from_settings(self._settings),
            )
            applied = await handle_checkout_session(ctx)
            status = await _status(session, data.checkout_session_id)
        result = CheckoutReconcileResult(
            checkout_session_id=data.checkout_session_id,
            status=status,
            stripe_customer_id=applied.stripe_customer_id,
            stripe_subscription_id=applied.stripe_subscription_id,
            plan=applied.plan,
        )
        CHECKOUT_RECONCILES.labels(result.status).inc()
        activity.logger.info(
            "checkout session %s reconciled from Stripe: %s",
            data.checkout_session_id,
            result.status,
            extra={"workspace_id": data.workspace_id},
        )
        return result


async def _owner(session: AsyncSession, checkout_session_id: str) -> uuid.UUID | None:
    owner: uuid.UUID | None = (
        await session.execute(
            text("SELECT workspace_id FROM checkout_sessions WHERE id = :id"),
            {"id": checkout_session_id},
        )
    ).scalar()
    return owner


async def _status(session: AsyncSession, checkout_session_id: str) -> CheckoutStatus:
    status: str = (
        await session.execute(
            text("SELECT status FROM checkout_sessions WHERE id = :id"),
            {"id": checkout_session_id},
        )
    ).scalar_one()
    return CheckoutStatus(status)
