"""Which workspace a Stripe subscription, customer or checkout session belongs to.

Order of evidence: our own rows first (a subscription row, the customer mapping, a checkout
session row), then what we put on the Stripe objects at checkout (`client_reference_id`,
`metadata.workspace_id`), then Stripe's Checkout Session that created the subscription.
A candidate counts only if the workspace exists.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from core.stripe_gateway import StripeGateway


def parse_uuid(value: Any) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def _existing(session: AsyncSession, workspace_id: uuid.UUID | None) -> uuid.UUID | None:
    if workspace_id is None:
        return None
    row = await session.execute(
        text("SELECT id FROM workspaces WHERE id = :w"), {"w": workspace_id}
    )
    return workspace_id if row.first() is not None else None


async def _scalar(session: AsyncSession, sql: str, value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    found: uuid.UUID | None = (await session.execute(text(sql), {"v": value})).scalar()
    return found


async def workspace_from_rows(
    session: AsyncSession,
    *,
    subscription_id: str | None = None,
    customer_id: str | None = None,
    checkout_session_id: str | None = None,
) -> uuid.UUID | None:
    """The workspace our own tables already tie to these Stripe ids."""
    for sql, value in (
        (
            "SELECT workspace_id FROM subscriptions WHERE stripe_subscription_id = :v",
            subscription_id,
        ),
        ("SELECT workspace_id FROM checkout_sessions WHERE id = :v", checkout_session_id),
        (
            "SELECT workspace_id FROM workspace_billing_customers WHERE stripe_customer_id = :v",
            customer_id,
        ),
        (
            "SELECT workspace_id FROM checkout_sessions WHERE stripe_subscription_id = :v "
            "ORDER BY created_at DESC LIMIT 1",
            subscription_id,
        ),
    ):
        found = await _scalar(session, sql, value)
        if found is not None:
            return found
    return None


def workspace_claim(obj: dict[str, Any] | None) -> uuid.UUID | None:
    """What a Stripe object says about its workspace: reference id, then metadata."""
    if not obj:
        return None
    metadata = obj.get("metadata") or {}
    return parse_uuid(obj.get("client_reference_id")) or parse_uuid(metadata.get("workspace_id"))


async def resolve_subscription_workspace(
    session: AsyncSession,
    gateway: StripeGateway,
    subscription_id: str,
    *,
    customer_id: str | None = None,
    hinted_workspace: str | None = None,
) -> uuid.UUID | None:
    """The workspace of a Stripe subscription; asks Stripe only when our rows do not know."""
    found = await workspace_from_rows(
        session, subscription_id=subscription_id, customer_id=customer_id
    )
    if found is not None:
        return found
    found = await _existing(session, parse_uuid(hinted_workspace))
    if found is not None:
        return found
    subscription = await gateway.retrieve_subscription(subscription_id)
    found = await _existing(session, workspace_claim(subscription))
    if found is not None:
        return found
    customer = subscription.get("customer")
    customer = customer.get("id") if isinstance(customer, dict) else customer
    if customer and customer != customer_id:
        found = await workspace_from_rows(session, customer_id=customer)
        if found is not None:
            return found
    checkout = await gateway.checkout_session_for_subscription(subscription_id)
    return await _existing(session, workspace_claim(checkout))


async def workspaces_of_customer(session: AsyncSession, customer_id: str) -> list[uuid.UUID]:
    """Every workspace mapped to, or holding a subscription of, this Stripe customer."""
    rows = await session.execute(
        text(
            "SELECT workspace_id FROM workspace_billing_customers WHERE stripe_customer_id = :c "
            "UNION SELECT workspace_id FROM subscriptions WHERE stripe_customer_id = :c "
            "ORDER BY 1"
        ),
        {"c": customer_id},
    )
    return [row[0] for row in rows]


async def link_customer(
    session: AsyncSession, workspace_id: uuid.UUID, customer_id: str | None
) -> None:
    """Record the workspace ↔ customer mapping learned from a completed checkout, unless the
    workspace or the customer is already mapped (then the existing mapping stands)."""
    if not customer_id:
        return
    await session.execute(
        text(
            "INSERT INTO workspace_billing_customers (workspace_id, stripe_customer_id) "
            "VALUES (:w, :c) ON CONFLICT DO NOTHING"
        ),
        {"w": workspace_id, "c": customer_id},
    )
