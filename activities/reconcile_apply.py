"""Apply a freshly fetched Stripe subscription through the webhook's own billing rules.

Built only on the public functions of `activities.subscription_state` and
`activities.workspace_resolution`, so the reconcile and grace jobs change a workspace exactly
as an event would — plus one rule of their own: an expired grace is not undone by Stripe
still saying `past_due` (only a paid invoice or an active subscription ends it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.deps import ActivityDeps
from core.db import transaction
from core.stripe_gateway import shared_gateway
from rules.subscription_state import (
    GRACE_EXPIRED_STATUS,
    apply_subscription,
    ensure_free_subscription,
    invoice_is_failing,
    lock_workspace,
    refresh_entitlements,
    set_grace_from_invoice,
)
from rules.workspaces import resolve_subscription_workspace


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
            "WHERE stripe_subscription_id = :s AND status IN ('active', 'trialing', 'past_due') "
            "AND grace_period_end <= :as_of RETURNING id"
        ),
        {"status": GRACE_EXPIRED_STATUS, "s": stripe_subscription_id, "as_of": as_of},
    )
    if demoted.first() is None:
        return False
    await ensure_free_subscription(session, workspace_id)
    await refresh_entitlements(session, workspace_id)
    return True


async def fetch_subscription(deps: ActivityDeps, stripe_subscription_id: str) -> dict[str, Any]:
    return await shared_gateway(deps).retrieve_subscription(
        stripe_subscription_id, expand_latest_invoice=True
    )


@dataclass(frozen=True)
class Applied:
    # applied | held (expired grace kept) | demoted | unresolved (no workspace of ours)
    action: str
    stripe_status: str | None = None
    invoice_failing: bool = False
    plan: str | None = None


async def apply_fresh_subscription(
    deps: ActivityDeps,
    stripe_subscription_id: str,
    *,
    as_of: datetime | None = None,
    workspace_hint: str | None = None,
    demote_expired_grace: bool = False,
) -> Applied:
    """Fetch the subscription under the workspace lock and apply it as the webhook would.

    Fetched under the lock (like the event handlers), so a concurrent event can never be
    overwritten by an older read. With `demote_expired_grace`, a subscription Stripe still
    calls past_due with a failing invoice is demoted once its grace ended before `as_of`.
    """
    moment = as_of or datetime.now(UTC)
    gateway = shared_gateway(deps)
    async with transaction(deps.sessions) as session:
        workspace_id = await resolve_subscription_workspace(
            session, gateway, stripe_subscription_id, hinted_workspace=workspace_hint
        )
        if workspace_id is None or not await lock_workspace(session, workspace_id):
            return Applied("unresolved")
        sub = await fetch_subscription(deps, stripe_subscription_id)
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
        state = await apply_subscription(
            session, workspace_id, sub, event_created=moment, event_type="reconcile"
        )
        await set_grace_from_invoice(session, sub["id"], invoice, deps.settings.billing_grace_days)
        return Applied("applied", sub["status"], failing, state.plan)
