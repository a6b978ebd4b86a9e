"""One handler per handled Stripe event type: re-fetch from Stripe, then apply under lock.

Each handler runs in one DB transaction that (1) resolves the workspace, (2) locks it
`FOR UPDATE`, (3) re-fetches the Stripe object *under the lock* — so the last writer of a
workspace always applies the freshest state and out-of-order events converge — (4) applies
the seed 002 §7 rules and (5) marks the ledger row completed, all committed together.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from core.stripe_gateway import StripeGateway
from models.event_payloads import (
    AppliedState,
    ApplyEventInput,
    invoice_subscription_id,
)
from models.vocabulary import SubscriptionStatus
from rules.checkout_outcome import (
    ASYNC_PAYMENT_FAILED,
    SessionPlan,
    decide,
    payment_state,
    record_session,
)
from rules.errors import NotOurs, workspace_not_resolved
from rules.locks import lock_workspace, lock_workspace_found_by
from rules.plans import resolve_plan
from rules.settlement import SettlementPolicy, apply_settled
from rules.subscription_state import (
    ensure_free_subscription,
    refresh_entitlements,
    set_grace_from_invoice,
)
from rules.workspaces import (
    CHECKOUT_OWNER,
    SUBSCRIPTION_OWNER,
    link_customer,
    resolve_subscription_workspace,
    workspace_from_rows,
    workspaces_of_customer,
)

logger = logging.getLogger(__name__)

Handler = Callable[["EventContext"], Awaitable[AppliedState]]


class EventContext:
    """What a handler works with: the open transaction, Stripe, the event and settings."""

    def __init__(
        self,
        session: AsyncSession,
        gateway: StripeGateway,
        data: ApplyEventInput,
        grace_days: int,
        settlement: SettlementPolicy,
    ) -> None:
        self.session = session
        self.gateway = gateway
        self.data = data
        self.hints = data.hints
        self.grace_days = grace_days
        self.settlement = settlement
        created = data.hints.created
        self.created = datetime.fromtimestamp(created, UTC) if created is not None else None

    async def apply(self, workspace_id: uuid.UUID, subscription: dict[str, Any]) -> AppliedState:
        return await apply_settled(
            self.session,
            self.gateway,
            workspace_id,
            subscription,
            self.settlement,
            event_created=self.created,
            event_id=self.data.event_id,
            event_type=self.data.event_type,
        )


async def _locked_subscription_workspace(ctx: EventContext, subscription_id: str) -> uuid.UUID:
    """The subscription's workspace, locked: found in our rows and locked in one round trip;
    Stripe is asked for the customer only when the event named none and our rows know
    nothing of the subscription."""
    found = await lock_workspace_found_by(
        ctx.session, SUBSCRIPTION_OWNER, {"s": subscription_id, "c": ctx.hints.customer_id}
    )
    if found is not None:
        if not found[1]:
            raise workspace_not_resolved(f"subscription {subscription_id}")
        return found[0]
    if ctx.hints.customer_id is not None:
        raise NotOurs(f"subscription {subscription_id}")
    workspace_id = await resolve_subscription_workspace(ctx.session, ctx.gateway, subscription_id)
    if workspace_id is None:
        raise NotOurs(f"subscription {subscription_id}")
    if not await lock_workspace(ctx.session, workspace_id):
        raise workspace_not_resolved(f"subscription {subscription_id}")
    return workspace_id


async def handle_subscription(ctx: EventContext) -> AppliedState:
    """customer.subscription.created|updated|deleted: apply the subscription as it is now."""
    subscription_id = ctx.hints.subscription_id or ctx.hints.object_id
    if not subscription_id:
        return AppliedState(note="event names no subscription")
    workspace_id = await _locked_subscription_workspace(ctx, subscription_id)
    subscription = await ctx.gateway.retrieve_subscription(
        subscription_id, expand_latest_invoice=True
    )
    applied = await ctx.apply(workspace_id, subscription)
    # The grace follows the latest invoice here too, so a failed renewal's status and grace
    # land in one change whichever of its events is applied first.
    await _grace_from_latest_invoice(ctx, subscription_id, subscription)
    return applied


async def _grace_from_latest_invoice(
    ctx: EventContext, subscription_id: str, subscription: dict[str, Any]
) -> None:
    latest = subscription.get("latest_invoice")
    await set_grace_from_invoice(
        ctx.session,
        subscription_id,
        latest if isinstance(latest, dict) else None,
        ctx.grace_days,
    )


async def handle_invoice(ctx: EventContext) -> AppliedState:
    """invoice.paid|payment_failed: sync the invoice's subscription, then set or clear its
    grace period from the subscription's latest invoice (never forcing the status)."""
    subscription_id = ctx.hints.subscription_id
    if subscription_id is None and ctx.hints.object_id:
        invoice = await ctx.gateway.retrieve_invoice(ctx.hints.object_id)
        subscription_id = invoice_subscription_id(invoice)
    if subscription_id is None:
        return AppliedState(note="invoice of no subscription")
    workspace_id = await _locked_subscription_workspace(ctx, subscription_id)
    subscription = await ctx.gateway.retrieve_subscription(
        subscription_id, expand_latest_invoice=True
    )
    applied = await ctx.apply(workspace_id, subscription)
    await _grace_from_latest_invoice(ctx, subscription_id, subscription)
    return applied


async def handle_checkout_session(ctx: EventContext) -> AppliedState:
    """checkout.session.completed | async_payment_succeeded | async_payment_failed | expired:
    the session's row follows what Stripe says of it and of its subscription, the customer
    is linked, and the subscription is applied. A session counts as ours only if we created
    it or its customer is one we map; what its metadata claims is never trusted."""
    session_id = ctx.hints.object_id
    if not session_id:
        return AppliedState(note="event names no checkout session")
    found = await lock_workspace_found_by(ctx.session, CHECKOUT_OWNER, {"id": session_id})
    if found is not None:  # a session we created: found and locked in one round trip
        workspace_id, present = found
    else:
        made_elsewhere = await ctx.gateway.retrieve_checkout_session(session_id)
        mapped = await workspace_from_rows(
            ctx.session, customer_id=_id(made_elsewhere.get("customer"))
        )
        if mapped is None:
            raise NotOurs(f"checkout session {session_id}")
        workspace_id, present = mapped, await lock_workspace(ctx.session, mapped)
    if not present:
        raise workspace_not_resolved(f"checkout session {session_id}")
    checkout = await ctx.gateway.retrieve_checkout_session(session_id)
    customer_id = _id(checkout.get("customer"))
    subscription_id = _id(checkout.get("subscription"))
    if customer_id:
        # Never re-link a customer whose deletion may already have been applied.
        customer = await ctx.gateway.retrieve_customer(customer_id)
        if customer is not None and not customer.get("deleted"):
            await link_customer(ctx.session, workspace_id, customer_id)
    applied = AppliedState(workspace_id=str(workspace_id), stripe_customer_id=customer_id)
    metadata = checkout.get("metadata") or {}
    plan = SessionPlan(metadata.get("plan_slug"), metadata.get("interval"), None)
    subscription: dict[str, Any] | None = None
    if subscription_id:
        subscription = await ctx.gateway.retrieve_subscription(subscription_id)
        applied = await ctx.apply(workspace_id, subscription)
        items = (subscription.get("items") or {}).get("data") or []
        if items:
            price = items[0].get("price")
            price = price if isinstance(price, dict) else {"id": price}
            ref = await resolve_plan(ctx.session, price)
            plan = SessionPlan(ref.plan_slug, ref.interval, price.get("id"))
    outcome = decide(
        checkout.get("status"),
        subscription.get("status") if subscription else None,
        payment_failed=ctx.data.event_type == ASYNC_PAYMENT_FAILED,
        payment=await payment_state(ctx.gateway, subscription),
    )
    await record_session(ctx.session, workspace_id, checkout, outcome, plan)
    return applied


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


async def handle_customer_deleted(ctx: EventContext) -> AppliedState:
    """customer.deleted: drop the mapping, cancel that customer's subscriptions, audit
    `webhook_deleted`, ensure the free plan and refresh `workspaces.plan` (seed 002 §7)."""
    customer_id = ctx.hints.object_id
    if not customer_id:
        return AppliedState(note="event names no customer")
    customer = await ctx.gateway.retrieve_customer(customer_id)
    if customer is not None and not customer.get("deleted"):
        logger.warning("customer.deleted for %s but Stripe still has it; no change", customer_id)
        return AppliedState(stripe_customer_id=customer_id, note="customer still exists")
    applied = AppliedState(stripe_customer_id=customer_id, note="no workspace of this customer")
    for workspace_id in await workspaces_of_customer(ctx.session, customer_id):
        if not await lock_workspace(ctx.session, workspace_id):
            continue
        await _forget_customer(ctx, workspace_id, customer_id)
        await ensure_free_subscription(ctx.session, workspace_id)
        plan = await refresh_entitlements(ctx.session, workspace_id, cause=ctx.data.event_id)
        applied = AppliedState(
            workspace_id=str(workspace_id), plan=plan, stripe_customer_id=customer_id
        )
    return applied


async def _forget_customer(ctx: EventContext, workspace_id: uuid.UUID, customer_id: str) -> None:
    params = {"w": workspace_id, "c": customer_id, "e": ctx.data.event_id}
    ended = {"ended": [SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED]}
    await ctx.session.execute(
        text(
            "DELETE FROM workspace_billing_customers "
            "WHERE workspace_id = :w AND stripe_customer_id = :c"
        ),
        params,
    )
    await ctx.session.execute(
        text(
            "UPDATE subscriptions SET status = 'canceled', cancel_at_period_end = false, "
            "canceled_at = COALESCE(canceled_at, now()), updated_at = now() "
            "WHERE workspace_id = :w AND stripe_customer_id = :c "
            "AND NOT (status = ANY(:ended))"
        ),
        {**params, **ended},
    )
    await ctx.session.execute(
        text(
            "INSERT INTO workspace_billing_customer_events (workspace_id, event_type, "
            "old_stripe_customer_id, reason, stripe_event_id) "
            "VALUES (:w, 'webhook_deleted', :c, 'customer.deleted webhook', :e)"
        ),
        params,
    )


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": handle_checkout_session,
    "checkout.session.async_payment_succeeded": handle_checkout_session,
    ASYNC_PAYMENT_FAILED: handle_checkout_session,
    "checkout.session.expired": handle_checkout_session,
    "customer.deleted": handle_customer_deleted,
    "customer.subscription.created": handle_subscription,
    "customer.subscription.updated": handle_subscription,
    "customer.subscription.deleted": handle_subscription,
    "invoice.payment_failed": handle_invoice,
    "invoice.paid": handle_invoice,
}
