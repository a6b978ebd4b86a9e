"""Where a checkout stands for the return page, and whether this poll should reconcile it.

Answers from our `checkout_sessions` row only: `pending` (with how the payment stands once
the session completed) until a webhook or a reconcile says the subscription is paid, then
`confirmed` with the subscription id; `failed` with the reason, or `expired` — the redirect
never changes entitlement. A session pending longer than the reconcile threshold is claimed for a
reconcile from Stripe (seed 000: a missed webhook) by setting `reconcile_requested_at`
atomically, so one poll wins and a later one re-claims only after `recheck_after` — no storm.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

# The shortest wait between two reconciles of one session, whatever the threshold.
MIN_RECHECK = timedelta(seconds=15)

READ_SESSION = text(
    "SELECT status, stripe_subscription_id, payment_status, failure_reason "
    "FROM checkout_sessions WHERE id = :id AND workspace_id = :w"
)

# One winner per window: pending long enough, and not reconciled recently.
CLAIM_RECONCILE = text(
    """
    UPDATE checkout_sessions SET reconcile_requested_at = now()
    WHERE id = :id AND workspace_id = :w AND status = 'pending'
      AND created_at <= now() - make_interval(secs => :threshold)
      AND (reconcile_requested_at IS NULL
           OR reconcile_requested_at <= now() - make_interval(secs => :recheck))
    RETURNING id
    """
)


class CheckoutSessionNotFound(LookupError):
    """The workspace has no checkout session of this id (another workspace's counts as none)."""


@dataclass(frozen=True)
class CheckoutStatus:
    status: str
    subscription_id: str | None
    # True when this poll claimed the reconcile: the caller starts it, nobody else does.
    reconcile_claimed: bool
    payment: str | None = None
    reason: str | None = None


def recheck_after(pending_reconcile_seconds: float) -> timedelta:
    return max(timedelta(seconds=pending_reconcile_seconds), MIN_RECHECK)


async def poll_checkout_status(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    session_id: str,
    *,
    pending_reconcile_seconds: float,
) -> CheckoutStatus:
    """The session's status, claiming its reconcile (committed) when it is pending too long.

    Raises CheckoutSessionNotFound.
    """
    params = {"id": session_id, "w": workspace_id}
    row = (await session.execute(READ_SESSION, params)).first()
    if row is None:
        raise CheckoutSessionNotFound(session_id)
    claimed = False
    if row.status == "pending":
        won = (
            await session.execute(
                CLAIM_RECONCILE,
                {
                    **params,
                    "threshold": pending_reconcile_seconds,
                    "recheck": recheck_after(pending_reconcile_seconds).total_seconds(),
                },
            )
        ).first()
        await session.commit()
        claimed = won is not None
    return CheckoutStatus(
        status=row.status,
        # Named only once confirmed: until then the purchase is not final.
        subscription_id=row.stripe_subscription_id if row.status == "confirmed" else None,
        reconcile_claimed=claimed,
        payment=row.payment_status if row.status == "pending" else None,
        reason=row.failure_reason if row.status == "failed" else None,
    )
