"""What a checkout session became: pending (and how its payment stands), confirmed, failed or
expired — decided from Stripe's state, never from the redirect.

A session is `confirmed` only once its subscription is `active` or `trialing`: a session
completed with its payment still settling (a bank debit) or waiting for the customer stays
`pending` with `payment` = `processing` | `requires_action`; a payment that fails, or a
subscription that became `incomplete_expired`, makes it `failed` with the reason. Confirmed,
failed and expired are final: a later renewal failure does not un-confirm a purchase.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from core.metrics import observe_checkout_finalized
from core.stripe_gateway import StripeGateway
from models.vocabulary import CheckoutPayment, CheckoutStatus, SubscriptionStatus

ASYNC_PAYMENT_FAILED = "checkout.session.async_payment_failed"
PAYMENT_FAILED = "payment_failed"
# Payment intent statuses that mean "the money is on its way, nobody needs to act".
_SETTLING = ("processing",)


@dataclass(frozen=True)
class Outcome:
    status: CheckoutStatus
    payment: CheckoutPayment | None = None
    reason: str | None = None


def decide(
    session_status: str | None,
    subscription_status: str | None,
    *,
    payment_failed: bool,
    payment: CheckoutPayment | None,
) -> Outcome:
    """The row's state for what Stripe says now (pure: the table of the module docstring)."""
    if subscription_status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
        return Outcome(CheckoutStatus.CONFIRMED)
    # One reason whichever Stripe reports first: the async failure of a delayed payment, or
    # the subscription expiring because its first payment never succeeded.
    if payment_failed or subscription_status == SubscriptionStatus.INCOMPLETE_EXPIRED:
        return Outcome(CheckoutStatus.FAILED, reason=PAYMENT_FAILED)
    if session_status == "expired":
        return Outcome(CheckoutStatus.EXPIRED)
    if session_status == "complete":
        return Outcome(CheckoutStatus.PENDING, payment or CheckoutPayment.REQUIRES_ACTION)
    return Outcome(CheckoutStatus.PENDING)


async def payment_state(
    gateway: StripeGateway, subscription: dict[str, Any] | None
) -> CheckoutPayment | None:
    """How the first invoice of a not yet active subscription is being paid."""
    if subscription is None or subscription.get("status") != SubscriptionStatus.INCOMPLETE:
        return None
    invoice_id = _id(subscription.get("latest_invoice"))
    if invoice_id is None:
        return CheckoutPayment.REQUIRES_ACTION
    invoice = await gateway.get(
        "invoices.retrieve", f"/v1/invoices/{invoice_id}", expand=["payments"]
    )
    for entry in (invoice.get("payments") or {}).get("data") or []:
        intent_id = _id((entry.get("payment") or {}).get("payment_intent"))
        if intent_id is None:
            continue
        intent = await gateway.get("payment_intents.retrieve", f"/v1/payment_intents/{intent_id}")
        if intent.get("status") in _SETTLING:
            return CheckoutPayment.PROCESSING
    return CheckoutPayment.REQUIRES_ACTION


@dataclass(frozen=True)
class SessionPlan:
    plan_slug: str | None
    interval: str | None
    price_id: str | None


async def record_session(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    checkout: dict[str, Any],
    outcome: Outcome,
    plan: SessionPlan,
) -> None:
    """Seed 000: the purchase is traceable from session to final subscription. Our pending
    row moves to the outcome; a session made elsewhere (for a customer we map) gets a row."""
    values = {
        "id": checkout["id"],
        "w": workspace_id,
        "c": _id(checkout.get("customer")),
        "s": _id(checkout.get("subscription")),
        "status": outcome.status,
        "payment": outcome.payment,
        "reason": outcome.reason,
        "final": outcome.status != CheckoutStatus.PENDING,
        "plan": plan.plan_slug,
        "interval": plan.interval or "monthly",
        "price": plan.price_id,
        "url": checkout.get("url"),
        "expires": _timestamp(checkout.get("expires_at")),
    }
    updated = await session.execute(
        text(
            "UPDATE checkout_sessions SET status = :status, payment_status = :payment, "
            "failure_reason = :reason, "
            "stripe_subscription_id = COALESCE(:s, stripe_subscription_id), "
            "stripe_customer_id = COALESCE(:c, stripe_customer_id), "
            "finalized_at = CASE WHEN :final THEN COALESCE(finalized_at, now()) END "
            "WHERE id = :id AND status = 'pending' "
            "RETURNING created_at, finalized_at, status"
        ),
        values,
    )
    row = updated.first()
    if row is not None:
        if row.status == CheckoutStatus.CONFIRMED:
            observe_checkout_finalized(row.created_at, row.finalized_at)
        return
    if plan.plan_slug is None:
        return
    await session.execute(
        text(
            "INSERT INTO checkout_sessions (id, workspace_id, stripe_customer_id, plan_slug, "
            "interval, stripe_price_id, status, payment_status, failure_reason, url, "
            "stripe_subscription_id, expires_at, finalized_at) VALUES (:id, :w, :c, :plan, "
            ":interval, :price, :status, :payment, :reason, :url, :s, :expires, "
            "CASE WHEN :final THEN now() END) ON CONFLICT (id) DO NOTHING"
        ),
        values,
    )


async def follow_subscription(session: AsyncSession, subscription: dict[str, Any]) -> None:
    """A pending checkout follows its subscription: confirmed once it is paid (active or
    trialing), failed once it expired incomplete."""
    outcome = decide(None, subscription.get("status"), payment_failed=False, payment=None)
    if outcome.status not in (CheckoutStatus.CONFIRMED, CheckoutStatus.FAILED):
        return
    finalized = await session.execute(
        text(
            "UPDATE checkout_sessions SET status = :status, failure_reason = :reason, "
            "payment_status = NULL, finalized_at = COALESCE(finalized_at, now()) "
            "WHERE stripe_subscription_id = :s AND status = 'pending' "
            "RETURNING created_at, finalized_at"
        ),
        {"status": outcome.status, "reason": outcome.reason, "s": subscription["id"]},
    )
    if outcome.status == CheckoutStatus.CONFIRMED:
        for row in finalized:
            observe_checkout_finalized(row.created_at, row.finalized_at)


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) else None
