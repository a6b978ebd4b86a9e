"""Reconcile rules: how a freshly fetched Stripe subscription is compared and applied.

Built only on the public functions of `rules.subscription_state` and `rules.workspaces`, so
the reconcile and grace jobs change a workspace exactly as an event would — plus one rule of
their own: an expired grace is not undone by Stripe still saying `past_due` (only a paid
invoice or an active subscription ends it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from core.stripe_gateway import StripeGateway
from models.vocabulary import ENDED_STATUSES
from rules.locks import lock_workspace
from rules.settlement import SettlementPolicy, apply_settled
from rules.subscription_state import (
    ENTITLED,
    GRACE_EXPIRED_STATUS,
    STATUS_MAP,
    ensure_free_subscription,
    invoice_is_failing,
    refresh_entitlements,
    set_grace_from_invoice,
)
from rules.workspaces import resolve_subscription_workspace

ENDED = ENDED_STATUSES


@dataclass(frozen=True)
class LocalRow:
    workspace_id: uuid.UUID
    status: str
    grace_period_end: datetime | None


def latest_invoice(sub: dict[str, Any]) -> dict[str, Any] | None:
    invoice = sub.get("latest_invoice")
    return invoice if isinstance(invoice, dict) else None


def grace_expired(row: LocalRow | None, as_of: datetime) -> bool:
    return bool(row and row.grace_period_end is not None and row.grace_period_end <= as_of)


def held_by_expired_grace(row: LocalRow | None, stripe_status: str, as_of: datetime) -> bool:
    """Stripe still says past_due but our grace ran out: the workspace stays demoted."""
    return (
        row is not None
        and row.status == GRACE_EXPIRED_STATUS
        and stripe_status == "past_due"
        and grace_expired(row, as_of)
    )


async def local_row(session: AsyncSession, stripe_subscription_id: str) -> LocalRow | None:
    row = (
        await session.execute(
            text(
                "SELECT workspace_id, status, grace_period_end FROM subscriptions "
                "WHERE stripe_subscription_id = :s"
            ),
            {"s": stripe_subscription_id},
        )
    ).first()
    return LocalRow(row.workspace_id, row.status, row.grace_period_end) if row else None


async def demote_for_expired_grace(
    session: AsyncSession, workspace_id: uuid.UUID, stripe_subscription_id: str, as_of: datetime
) -> bool:
    """Grace over, invoice unpaid: non-entitled locally, free row ensured, plan refreshed.

    `grace_period_end` stays set (in the past): it is the evidence that keeps the reconcile
    from re-entitling the row until `invoice.paid` clears it.
    """
    # Re-checked under the workspace lock: an `invoice.paid` may have cleared it meanwhile.
    demoted = await session.execute(
        text(
            "UPDATE subscriptions SET status = :status, updated_at = now() "
            "WHERE stripe_subscription_id = :s AND status = ANY(:entitled) "
            "AND grace_period_end <= :as_of RETURNING id"
        ),
        {
            "status": GRACE_EXPIRED_STATUS,
            "s": stripe_subscription_id,
            "as_of": as_of,
            "entitled": ENTITLED,
        },
    )
    if demoted.first() is None:
        return False
    await ensure_free_subscription(session, workspace_id)
    await refresh_entitlements(session, workspace_id, cause="grace_expired")
    return True


@dataclass(frozen=True)
class Applied:
    # applied | held (expired grace kept) | demoted | unresolved (no workspace of ours)
    action: str
    stripe_status: str | None = None
    invoice_failing: bool = False
    plan: str | None = None


async def apply_fresh_subscription(
    session: AsyncSession,
    gateway: StripeGateway,
    stripe_subscription_id: str,
    *,
    grace_days: int,
    settlement: SettlementPolicy,
    as_of: datetime | None = None,
    workspace_hint: uuid.UUID | None = None,
    demote_expired_grace: bool = False,
) -> Applied:
    """Fetch the subscription under the workspace lock and apply it as the webhook would.

    Runs in the caller's transaction. Fetched under the lock (like the event handlers), so a
    concurrent event can never be overwritten by an older read. With `demote_expired_grace`,
    a subscription Stripe still calls past_due with a failing invoice is demoted once its
    grace ended before `as_of`. `workspace_hint` comes from our own rows (the caller's
    subscription row or customer mapping); without it, our rows are asked.
    """
    moment = as_of or datetime.now(UTC)
    workspace_id = workspace_hint or await resolve_subscription_workspace(
        session, gateway, stripe_subscription_id
    )
    if workspace_id is None or not await lock_workspace(session, workspace_id):
        return Applied("unresolved")
    sub = await gateway.retrieve_subscription(
        stripe_subscription_id, expand_latest_invoice=True
    )
    invoice = latest_invoice(sub)
    failing = invoice_is_failing(invoice)
    row = await local_row(session, stripe_subscription_id)
    if demote_expired_grace and sub["status"] == "past_due" and failing:
        demoted = await demote_for_expired_grace(
            session, workspace_id, stripe_subscription_id, moment
        )
        return Applied("demoted" if demoted else "held", sub["status"], failing)
    if held_by_expired_grace(row, sub["status"], moment) and failing:
        return Applied("held", sub["status"], failing)
    # Fetched now: events created before this moment are older than the state applied.
    state = await apply_settled(
        session,
        gateway,
        workspace_id,
        sub,
        settlement,
        event_created=moment,
        event_id=None,
        event_type="reconcile",
    )
    await set_grace_from_invoice(session, sub["id"], invoice, grace_days)
    return Applied("applied", sub["status"], failing, state.plan)


@dataclass(frozen=True)
class Local:
    row: LocalRow
    price: str | None
    cancel_at_period_end: bool
    current_period_end: datetime | None


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


def stripe_view(sub: dict[str, Any]) -> tuple[str, str | None, bool, datetime | None]:
    """(status, price, cancel_at_period_end, current_period_end) as we store them."""
    items = (sub.get("items") or {}).get("data") or []
    price = items[0].get("price") if items else None
    price_id = price.get("id") if isinstance(price, dict) else price
    ends = [i.get("current_period_end") for i in items if i.get("current_period_end")]
    period_end = _ts(max(ends) if ends else sub.get("current_period_end"))
    status = STATUS_MAP.get(sub["status"], (sub["status"], False))[0]
    return status, price_id, bool(sub.get("cancel_at_period_end")), period_end


def differences(sub: dict[str, Any], local: Local | None, as_of: datetime) -> list[str]:
    """The fields in which our row disagrees with Stripe; ["missing"] if we have no row."""
    if local is None:
        return ["missing"]
    status, price, cape, period_end = stripe_view(sub)
    diff = []
    if status != local.row.status and not held_by_expired_grace(local.row, sub["status"], as_of):
        diff.append("status")
    if price != local.price:
        diff.append("price")
    if cape != local.cancel_at_period_end:
        diff.append("cancel_at_period_end")
    theirs, ours = period_end, local.current_period_end
    if (theirs is None) != (ours is None) or (
        theirs and ours and abs((theirs - ours).total_seconds()) >= 1
    ):
        diff.append("current_period_end")
    return diff
