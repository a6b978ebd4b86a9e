"""Fetch one Stripe subscription and apply it exactly as the webhook would (reconcile, grace).

`SubscriptionActivities.sync_subscription(SyncSubscriptionInput) -> AppliedState` resolves the
workspace, locks it, re-fetches the subscription under the lock and applies seed 002 §7 via
`activities.subscription_state` — the same code path as `customer.subscription.*` events.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from core.db import transaction
from core.stripe_gateway import shared_gateway
from models.event_payloads import (
    ACTIVITY_SYNC_SUBSCRIPTION,
    WORKSPACE_NOT_RESOLVED,
    AppliedState,
    SyncSubscriptionInput,
)
from rules.subscription_state import apply_subscription, lock_workspace, set_grace_from_invoice
from rules.workspaces import resolve_subscription_workspace


class SubscriptionActivities:
    """Stripe → DB sync of a single subscription, outside any webhook."""

    def __init__(self, deps: ActivityDeps) -> None:
        self._sessions = deps.sessions
        self._gateway = shared_gateway(deps)
        self._grace_days = deps.settings.billing_grace_days

    @activity.defn(name=ACTIVITY_SYNC_SUBSCRIPTION)
    async def sync_subscription(self, data: SyncSubscriptionInput) -> AppliedState:
        sub_id = data.stripe_subscription_id
        async with transaction(self._sessions) as session:
            workspace_id = await resolve_subscription_workspace(
                session,
                self._gateway,
                sub_id,
                customer_id=data.stripe_customer_id,
                hinted_workspace=data.workspace_id,
            )
            if workspace_id is None or not await lock_workspace(session, workspace_id):
                raise ApplicationError(
                    f"no workspace found for subscription {sub_id}",
                    type=WORKSPACE_NOT_RESOLVED,
                    non_retryable=True,
                )
            subscription = await self._gateway.retrieve_subscription(
                sub_id, expand_latest_invoice=data.sync_grace
            )
            applied = await apply_subscription(session, workspace_id, subscription)
            latest = subscription.get("latest_invoice")
            if data.sync_grace:
                await set_grace_from_invoice(
                    session, sub_id, latest if isinstance(latest, dict) else None,
                    self._grace_days,
                )
        return applied
