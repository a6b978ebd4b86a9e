"""Which workspace a Stripe subscription, customer or checkout session belongs to.

Attribution comes only from what this service made or already owns: a subscription row we
hold, a checkout session we created (`checkout_sessions`), or the current customer mapping.
`client_reference_id` and metadata are never trusted: anyone holding a key, a Payment Link
or a pricing table can write them. An object that matches none of these is not ours.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from core.stripe_gateway import StripeGateway

# The workspace our rows tie to a subscription (`:s`) and its customer (`:c`), best first,
# as `workspace_from_rows` orders them: the subscription's row, the customer's mapping, the
# newest checkout session that created the subscription.
SUBSCRIPTION_OWNER = (
    "SELECT workspace_id FROM ("
    "SELECT workspace_id, 1 AS rank FROM subscriptions WHERE stripe_subscription_id = :s "
    "UNION ALL SELECT workspace_id, 2 FROM workspace_billing_customers "
    "WHERE stripe_customer_id = :c "
    "UNION ALL (SELECT workspace_id, 3 FROM checkout_sessions WHERE stripe_subscription_id = :s "
    "ORDER BY created_at DESC LIMIT 1)) AS owners ORDER BY rank LIMIT 1"
)

# The workspace of a checkout session we created (`:id`).
CHECKOUT_OWNER = "SELECT workspace_id FROM checkout_sessions WHERE id = :id"


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


async def resolve_subscription_workspace(
    session: AsyncSession,
    gateway: StripeGateway,
    subscription_id: str,
    *,
    customer_id: str | None = None,
) -> uuid.UUID | None:
    """The workspace of a Stripe subscription, from our rows; asks Stripe for the
    subscription's customer only when the event did not name it."""
    found = await workspace_from_rows(
        session, subscription_id=subscription_id, customer_id=customer_id
    )
    if found is not None or customer_id is not None:
        return found
    subscription = await gateway.retrieve_subscription(subscription_id)
    customer = subscription.get("customer")
    customer = customer.get("id") if isinstance(customer, dict) else customer
    return await workspace_from_rows(session, customer_id=customer) if customer else None


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
