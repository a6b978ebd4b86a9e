"""At most one payable checkout session per workspace.

Checkouts of one workspace are serialized by the workspace's billing lock (`rules.locks`, an
advisory lock this service owns, never a lock on the main application's rows). Under it, a
new checkout looks at the workspace's sessions still pending: one of the same plan and
interval is answered again; any other is expired in Stripe before a new one is created —
so two tabs never leave two sessions that can both be paid.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from models.vocabulary import ENTITLED_STATUSES, CheckoutStatus, Plan

_PENDING = text(
    "SELECT id, plan_slug, interval, url, expires_at, stripe_customer_id FROM checkout_sessions "
    "WHERE workspace_id = :w AND status = 'pending' ORDER BY created_at"
)
_PAID = text(
    "SELECT 1 FROM subscriptions WHERE workspace_id = :w AND status = ANY(:entitled) "
    "AND plan_slug <> :free LIMIT 1"
)
_EXPIRE = text(
    "UPDATE checkout_sessions SET status = 'expired', finalized_at = COALESCE(finalized_at, "
    "now()) WHERE id = :id AND status = 'pending'"
)


@dataclass(frozen=True)
class PendingSession:
    id: str
    plan_slug: str
    interval: str
    url: str | None
    expires_at: datetime | None
    customer_id: str | None

    def is_open(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class SessionChoice:
    """What a pending session does with a new request: answer it again, or expire it."""

    reuse: PendingSession | None
    expire: tuple[PendingSession, ...]


def plan_for(
    pending: list[PendingSession], plan_slug: str, interval: str, customer_id: str, now: datetime
) -> SessionChoice:
    """Reuse the open session of the same plan, interval and (validated) customer; expire
    every other pending one: another plan's, a replaced customer's, one past `expires_at`."""
    reuse = next(
        (
            p
            for p in pending
            if (p.plan_slug, p.interval, p.customer_id) == (plan_slug, interval, customer_id)
            and p.is_open(now)
            and p.url
        ),
        None,
    )
    return SessionChoice(reuse, tuple(p for p in pending if p is not reuse))


async def pending_sessions(session: AsyncSession, workspace_id: uuid.UUID) -> list[PendingSession]:
    rows = await session.execute(_PENDING, {"w": workspace_id})
    return [
        PendingSession(r.id, r.plan_slug, r.interval, r.url, r.expires_at, r.stripe_customer_id)
        for r in rows
    ]


async def has_paid_subscription(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    """Seed 001: paid plans do not stack; a workspace with one manages it in the portal."""
    row = await session.execute(
        _PAID, {"w": workspace_id, "entitled": list(ENTITLED_STATUSES), "free": Plan.FREE}
    )
    return row.first() is not None


async def mark_expired(session: AsyncSession, checkout_session_id: str) -> None:
    await session.execute(_EXPIRE, {"id": checkout_session_id})


async def insert_pending(
    session: AsyncSession,
    *,
    checkout_session_id: str,
    workspace_id: uuid.UUID,
    idempotency_key: uuid.UUID,
    customer_id: str,
    plan_slug: str,
    interval: str,
    price_id: str,
    url: str,
    expires_at: int,
) -> None:
    """The new session, pending, in the same transaction as the lock: the next checkout of
    the workspace sees it."""
    await session.execute(
        text(
            "INSERT INTO checkout_sessions (id, workspace_id, idempotency_key, "
            "stripe_customer_id, plan_slug, interval, stripe_price_id, status, url, expires_at) "
            "VALUES (:id, :w, :key, :c, :plan, :interval, :price, :status, :url, :expires) "
            "ON CONFLICT (id) DO NOTHING"
        ),
        {
            "id": checkout_session_id,
            "w": workspace_id,
            "key": idempotency_key,
            "c": customer_id,
            "plan": plan_slug,
            "interval": interval,
            "price": price_id,
            "status": CheckoutStatus.PENDING,
            "url": url,
            "expires": datetime.fromtimestamp(expires_at, UTC),
        },
    )
