"""Settle a workspace whose customer has more than one live subscription in Stripe.

Runs inside the caller's transaction, under the workspace's billing lock, right before an
event (or a reconcile) applies a live subscription. It lists the customer's live
subscriptions, lets `rules.duplicates` pick the winner, and for each loser: refunds and
cancels it (a duplicate purchase), cancels it with proration (credit on the customer's
balance), or only flags it — then records the settlement. Every Stripe write carries an
idempotency key derived from both subscription ids, so a retried event repeats nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from core.config import Settings
from core.metrics import DUPLICATE_SUBSCRIPTIONS
from core.stripe_gateway import StripeGateway
from models.event_payloads import AppliedState
from models.failures import BillingFailure
from rules.checkout_outcome import follow_subscription
from rules.duplicates import (
    Decision,
    LiveSubscription,
    Loser,
    choose_winner,
    is_live,
    plan_settlement,
)
from rules.plans import resolve_plan, stripe_price
from rules.subscription_state import apply_subscription

logger = logging.getLogger(__name__)

_SETTLED = text(
    "SELECT loser_subscription_id FROM billing_duplicate_settlements "
    "WHERE loser_subscription_id = ANY(:ids)"
)
_RECORD = text(
    "INSERT INTO billing_duplicate_settlements (workspace_id, winner_subscription_id, "
    "loser_subscription_id, rule, action, amount_refunded, amount_credited, currency, "
    "stripe_event_id) VALUES (:w, :winner, :loser, :rule, :action, :refunded, :credited, "
    ":currency, :found_by) ON CONFLICT (loser_subscription_id) DO NOTHING"
)


@dataclass(frozen=True)
class SettlementPolicy:
    mode: str  # "cancel" | "flag" (BILLING_DUPLICATE_SUBSCRIPTION_ACTION)
    refund_window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SettlementPolicy:
        return cls(
            settings.billing_duplicate_subscription_action,
            timedelta(hours=settings.billing_duplicate_refund_window_hours),
        )


async def live_subscriptions(
    session: AsyncSession, gateway: StripeGateway, customer_id: str
) -> list[LiveSubscription]:
    """The customer's subscriptions Stripe still bills, as the winner rule reads them."""
    page = await gateway.get(
        "subscriptions.list", "/v1/subscriptions", customer=customer_id, limit=100
    )
    found = []
    for sub in page.get("data") or []:
        if not is_live(sub.get("status", "")):
            continue
        items = (sub.get("items") or {}).get("data") or []
        plan, interval = None, None
        if items:
            try:
                ref = await resolve_plan(session, stripe_price(items[0]))
                plan, interval = ref.plan_slug, ref.interval
            except BillingFailure:
                pass  # a price of no plan of ours ranks lowest; it is still live and billed
        found.append(LiveSubscription(sub["id"], sub["status"], plan, interval, sub["created"]))
    return found


async def settle_duplicates(
    session: AsyncSession,
    gateway: StripeGateway,
    workspace_id: uuid.UUID,
    customer_id: str | None,
    policy: SettlementPolicy,
    *,
    found_by: str | None,
    now: datetime,
) -> Decision | None:
    """Settle every live loser of the customer's subscriptions; the decision, or None when
    Stripe bills at most one."""
    if not customer_id:
        return None
    decision = choose_winner(await live_subscriptions(session, gateway, customer_id))
    if decision is None:
        return None
    ids = [loser.subscription.id for loser in decision.losers]
    settled = {row[0] for row in await session.execute(_SETTLED, {"ids": ids})}
    for loser in decision.losers:
        plan = plan_settlement(
            loser.subscription, mode=policy.mode, refund_window=policy.refund_window, now=now
        )
        if loser.subscription.id in settled and not plan.cancel:
            continue  # flagged before: nothing more to do or record
        refunded, credited, currency = 0, 0, None
        if plan.refund:
            refunded, currency = await _refund_latest_payment(gateway, decision, loser)
        if plan.cancel:
            await _cancel(gateway, decision, loser, prorate=plan.prorate)
        if plan.prorate:
            credited, currency = await _credit_of_final_invoice(gateway, loser.subscription.id)
        await session.execute(
            _RECORD,
            {
                "w": workspace_id,
                "winner": decision.winner.id,
                "loser": loser.subscription.id,
                "rule": loser.rule,
                "action": plan.action,
                "refunded": refunded,
                "credited": credited,
                "currency": currency,
                "found_by": found_by,
            },
        )
        DUPLICATE_SUBSCRIPTIONS.labels(plan.action).inc()
        logger.warning(
            "workspace %s: duplicate subscription %s %s (winner %s by %s)",
            workspace_id,
            loser.subscription.id,
            plan.action,
            decision.winner.id,
            loser.rule,
        )
    return decision


async def apply_settled(
    session: AsyncSession,
    gateway: StripeGateway,
    workspace_id: uuid.UUID,
    subscription: dict[str, Any],
    policy: SettlementPolicy,
    *,
    event_created: datetime | None,
    event_id: str | None,
    event_type: str,
) -> AppliedState:
    """Apply a freshly fetched subscription, settling duplicates first when it is live: a
    losing subscription is applied as Stripe now has it (cancelled, or flagged and kept
    non-entitled) and the winner becomes the workspace's plan. Every apply goes through
    here — events, reconcile and grace — so they all pick the same winner."""

    async def apply(sub: dict[str, Any], *, may_entitle: bool = True) -> AppliedState:
        applied = await apply_subscription(
            session,
            workspace_id,
            sub,
            event_created=event_created,
            event_id=event_id,
            event_type=event_type,
            may_entitle=may_entitle,
        )
        await follow_subscription(session, sub)
        return applied

    if is_live(subscription["status"]):
        decision = await settle_duplicates(
            session,
            gateway,
            workspace_id,
            _id(subscription.get("customer")),
            policy,
            found_by=event_id or event_type,
            now=datetime.now(UTC),
        )
        if decision is not None and decision.winner.id != subscription["id"]:
            await apply(await gateway.retrieve_subscription(subscription["id"]), may_entitle=False)
            return await apply(await gateway.retrieve_subscription(decision.winner.id))
    return await apply(subscription)


def _key(decision: Decision, loser: Loser, step: str) -> str:
    return f"settle:{decision.winner.id}:{loser.subscription.id}:{step}"


async def _refund_latest_payment(
    gateway: StripeGateway, decision: Decision, loser: Loser
) -> tuple[int, str | None]:
    """Refund in full what the loser's latest invoice collected; (amount, currency)."""
    sub = await gateway.retrieve_subscription(loser.subscription.id)
    invoice_id = _id(sub.get("latest_invoice"))
    if invoice_id is None:
        return 0, None
    invoice = await gateway.get(
        "invoices.retrieve", f"/v1/invoices/{invoice_id}", expand=["payments"]
    )
    total, currency = 0, invoice.get("currency")
    for entry in (invoice.get("payments") or {}).get("data") or []:
        payment = entry.get("payment") or {}
        intent = _id(payment.get("payment_intent"))
        if entry.get("status") != "paid" or intent is None:
            continue
        refund = await gateway.call(
            "refunds.create",
            gateway.client.v1.refunds.create_async(
                {"payment_intent": intent, "reason": "duplicate"},
                options={"idempotency_key": _key(decision, loser, f"refund:{intent}")},
            ),
        )
        total += int(refund.amount or 0)
    return total, currency


async def _cancel(
    gateway: StripeGateway, decision: Decision, loser: Loser, *, prorate: bool
) -> None:
    comment = f"duplicate of {decision.winner.id} (decided by {loser.rule})"
    await gateway.call(
        "subscriptions.cancel",
        gateway.client.v1.subscriptions.cancel_async(
            loser.subscription.id,
            {
                "prorate": prorate,
                "invoice_now": prorate,
                "cancellation_details": {"comment": comment},
            },
            options={"idempotency_key": _key(decision, loser, "cancel")},
        ),
    )


async def _credit_of_final_invoice(
    gateway: StripeGateway, subscription_id: str
) -> tuple[int, str | None]:
    """What the prorated cancellation left on the customer's balance (its final invoice's
    negative total)."""
    page = await gateway.get(
        "invoices.list", "/v1/invoices", subscription=subscription_id, limit=1
    )
    invoices = page.get("data") or []
    if not invoices:
        return 0, None
    total = int(invoices[0].get("total") or 0)
    return max(0, -total), invoices[0].get("currency")


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None
