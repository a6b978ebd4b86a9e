"""Billing rules of seed 002 §7: apply a Stripe subscription's state to a workspace.

Every function takes an open `AsyncSession` inside a transaction whose first statement was
`lock_workspace` — so all billing writes of one workspace are serialized, never deadlock
(one advisory lock, always taken first) and never race the one-entitled-row index.

API (reused by the webhook handlers, the reconcile and grace jobs):
- `lock_workspace(session, workspace_id) -> bool` (`rules.locks`): the billing lock; False if
  the workspace is missing.
- `apply_subscription(session, workspace_id, stripe_subscription, event_created, event_id)
  -> AppliedState`: upsert the row, its items, demote/ensure free, refresh plan and grants.
- `ensure_free_subscription(session, workspace_id)`: the free row becomes the entitled one
  when no other row is entitled.
- `refresh_entitlements(session, workspace_id, cause=…) -> str`: `workspaces.plan`,
  `workspace_grants` and (at commit) the entitlements snapshot; returns the plan.
- `set_grace_from_invoice(session, stripe_subscription_id, latest_invoice, grace_days)`.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from core.metrics import WEBHOOKS_OUT_OF_ORDER
from models.event_payloads import AppliedState
from models.vocabulary import ENTITLED_STATUSES, Plan, SubscriptionStatus
from rules.entitlements import mark_changed
from rules.errors import unknown_subscription_status
from rules.locks import set_workspace_plan
from rules.plans import PlanRef, resolve_plan, stripe_price

logger = logging.getLogger(__name__)

# Stripe status -> our status, and whether it entitles the workspace to the paid plan.
STATUS_MAP: dict[str, tuple[str, bool]] = {
    "trialing": ("trialing", True),
    "active": ("active", True),
    "past_due": ("past_due", True),
    "unpaid": ("unpaid", False),  # non-entitled: free tier ensured
    "paused": ("paused", False),  # non-entitled: free tier ensured
    "canceled": ("canceled", False),  # free tier ensured
    "incomplete_expired": ("incomplete_expired", False),  # terminal; free tier ensured
    "incomplete": ("incomplete", False),  # payment pending; free tier ensured meanwhile
}
# Our status for a subscription Stripe still calls past_due after our grace ran out unpaid:
# Stripe's own name for "retries exhausted, not entitled" (seed 002 §7: free tier ensured).
GRACE_EXPIRED_STATUS = "unpaid"
# Bound as a parameter wherever SQL filters for entitled rows.
ENTITLED = list(ENTITLED_STATUSES)
# Items upserted by (subscription, price) and vanished ones removed, in one statement: the
# DELETE sees the rows as they were before it, so it never touches a row just upserted.
_SYNC_ITEMS = text(
    """
    WITH incoming AS (
        SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb))
            AS r(item text, price text, qty int, start timestamptz, "end" timestamptz)
    ), upserted AS (
        INSERT INTO subscription_items (subscription_id, stripe_subscription_item_id,
            stripe_price_id, quantity, current_period_start, current_period_end)
        SELECT CAST(:sub AS uuid), item, price, qty, start, "end" FROM incoming
        ON CONFLICT (subscription_id, stripe_price_id) DO UPDATE SET
            stripe_subscription_item_id = EXCLUDED.stripe_subscription_item_id,
            quantity = EXCLUDED.quantity,
            current_period_start = EXCLUDED.current_period_start,
            current_period_end = EXCLUDED.current_period_end, updated_at = now()
        RETURNING 1
    )
    DELETE FROM subscription_items
    WHERE subscription_id = CAST(:sub AS uuid)
      AND stripe_price_id NOT IN (SELECT price FROM incoming)
    """
)
# The workspace's grants follow its entitled row, in one statement that answers the plan:
# the grants of the row's price (`:known_grants` for `:known_price`, just resolved from the
# price's metadata; else `plan_variants.grants`), none for a free or missing entitled row.
_REFRESH_GRANTS = text(
    """
    WITH entitled AS (
        SELECT id, plan_slug, stripe_price_id FROM subscriptions
        WHERE workspace_id = CAST(:w AS uuid) AND status = ANY(:entitled) LIMIT 1
    ), wanted AS (
        SELECT e.id AS source, CASE
            WHEN e.stripe_price_id IS NULL THEN '{}'::jsonb
            WHEN e.stripe_price_id = CAST(:known_price AS text)
                THEN CAST(:known_grants AS jsonb)
            ELSE COALESCE((SELECT grants FROM plan_variants
                           WHERE stripe_price_id = e.stripe_price_id), '{}'::jsonb)
        END AS grants
        FROM entitled e
    ), incoming AS (
        SELECT g.key AS code, g.value, w.source FROM wanted w, jsonb_each(w.grants) AS g
    ), upserted AS (
        INSERT INTO workspace_grants (workspace_id, grant_program_code, value,
            source_subscription_id)
        SELECT CAST(:w AS uuid), code, value, source FROM incoming
        ON CONFLICT (workspace_id, grant_program_code) DO UPDATE SET
            value = EXCLUDED.value, source_subscription_id = EXCLUDED.source_subscription_id
        WHERE workspace_grants.value IS DISTINCT FROM EXCLUDED.value
           OR workspace_grants.source_subscription_id
              IS DISTINCT FROM EXCLUDED.source_subscription_id
        RETURNING 1
    ), removed AS (
        DELETE FROM workspace_grants
        WHERE workspace_id = CAST(:w AS uuid)
          AND grant_program_code NOT IN (SELECT code FROM incoming)
        RETURNING 1
    )
    SELECT (SELECT plan_slug FROM entitled) AS plan
    """
)
assert set(ENTITLED_STATUSES) == {s for s, (_, ok) in STATUS_MAP.items() if ok}


def map_status(stripe_status: str) -> tuple[str, bool]:
    """Our status for a Stripe status and whether it is entitled (seed 002 §7 table)."""
    try:
        return STATUS_MAP[stripe_status]
    except KeyError:
        raise unknown_subscription_status(stripe_status) from None


def _iso(value: Any) -> str | None:
    stamp = _ts(value)
    return stamp.isoformat() if stamp is not None else None


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


async def apply_subscription(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    stripe_subscription: dict[str, Any],
    event_created: datetime | None = None,
    event_id: str | None = None,
    event_type: str = "reconcile",
    may_entitle: bool = True,
) -> AppliedState:
    """Make the workspace's rows say what this (freshly fetched) Stripe subscription says.

    Idempotent and order-tolerant: applying the same state twice changes nothing, and an
    older event only updates `last_event_created` bookkeeping (counted as out of order).
    """
    sub = stripe_subscription
    status, entitled = map_status(sub["status"])
    items = (sub.get("items") or {}).get("data") or []
    price = stripe_price(items[0]) if items else {"id": None}
    plan = await resolve_plan(session, price)
    period_ends = [i.get("current_period_end") for i in items if i.get("current_period_end")]
    period_end = _ts(max(period_ends) if period_ends else sub.get("current_period_end"))
    existing = (
        await session.execute(
            text(
                "SELECT id, status, last_event_created, "
                "grace_period_end IS NOT NULL AND grace_period_end <= now() AS grace_expired "
                "FROM subscriptions WHERE stripe_subscription_id = :s"
            ),
            {"s": sub["id"]},
        )
    ).first()
    out_of_order = bool(
        existing is not None
        and existing.last_event_created is not None
        and event_created is not None
        and event_created < existing.last_event_created
    )
    if entitled and not may_entitle:
        # A live subscription that lost to another of the workspace's (BILLING_DUPLICATE_
        # SUBSCRIPTION_ACTION=flag): kept on record, never the entitled row.
        status, entitled = SubscriptionStatus.CANCELED, False
    if sub["status"] == "past_due" and existing is not None and existing.grace_expired:
        # The grace ran out unpaid: a later event that still says past_due must not hand the
        # paid plan back; only a paid invoice (which clears the grace) does.
        status, entitled = GRACE_EXPIRED_STATUS, False
    if out_of_order:
        WEBHOOKS_OUT_OF_ORDER.labels(event_type).inc()
        logger.info(
            "event %s older than applied state of %s; applying fresh state", event_id, sub["id"]
        )
    if entitled:
        await _demote_other_entitled(session, workspace_id, sub["id"])
    values = {
        "w": workspace_id,
        "plan": plan.plan_slug,
        "status": status,
        "s": sub["id"],
        "c": _customer_id(sub),
        "price": price.get("id"),
        "interval": plan.interval,
        "period_end": period_end,
        "cape": bool(sub.get("cancel_at_period_end")),
        "canceled_at": _ts(sub.get("canceled_at")),
        "created": event_created,
        "event_id": event_id,
    }
    row_id = await _upsert_row(session, values, existing.id if existing is not None else None)
    await _sync_items(session, row_id, items)
    if not entitled:
        await ensure_free_subscription(session, workspace_id)
    workspace_plan = await refresh_entitlements(
        session, workspace_id, {price.get("id"): plan}, cause=event_id or event_type
    )
    return AppliedState(
        workspace_id=str(workspace_id),
        plan=workspace_plan,
        stripe_customer_id=values["c"],
        stripe_subscription_id=sub["id"],
        subscription_status=status,
        entitled=entitled,
        out_of_order=out_of_order,
    )


def _customer_id(sub: dict[str, Any]) -> str | None:
    customer = sub.get("customer")
    return customer.get("id") if isinstance(customer, dict) else customer


async def _demote_other_entitled(
    session: AsyncSession, workspace_id: uuid.UUID, stripe_subscription_id: str
) -> None:
    """Seed 002 §7 transition safety: free or older paid rows step aside before this row
    becomes entitled, so the partial unique index never sees two entitled rows."""
    demoted = await session.execute(
        text(
            "UPDATE subscriptions SET status = 'canceled', updated_at = now(), "
            "canceled_at = COALESCE(canceled_at, now()) "
            "WHERE workspace_id = :w AND status = ANY(:entitled) "
            "AND stripe_subscription_id IS DISTINCT FROM :s "
            "RETURNING plan_slug, stripe_subscription_id"
        ),
        {"w": workspace_id, "s": stripe_subscription_id, "entitled": ENTITLED},
    )
    for row in demoted:
        if row.stripe_subscription_id is not None:
            logger.warning(
                "workspace %s: paid subscription %s demoted locally by %s (two live subscriptions)",
                workspace_id,
                row.stripe_subscription_id,
                stripe_subscription_id,
            )


async def _upsert_row(
    session: AsyncSession, values: dict[str, Any], row_id: uuid.UUID | None
) -> uuid.UUID:
    if row_id is None:
        inserted = await session.execute(
            text(
                "INSERT INTO subscriptions (workspace_id, plan_slug, status, "
                "stripe_subscription_id, stripe_customer_id, stripe_price_id, interval, "
                "current_period_end, cancel_at_period_end, canceled_at, last_event_created, "
                "last_stripe_event_id) VALUES (:w, :plan, :status, :s, :c, :price, :interval, "
                ":period_end, :cape, :canceled_at, :created, :event_id) RETURNING id"
            ),
            values,
        )
        new_id: uuid.UUID = inserted.scalar_one()
        return new_id
    await session.execute(
        text(
            "UPDATE subscriptions SET plan_slug = :plan, status = :status, "
            "stripe_customer_id = COALESCE(:c, stripe_customer_id), stripe_price_id = :price, "
            "interval = :interval, current_period_end = :period_end, "
            "cancel_at_period_end = :cape, canceled_at = :canceled_at, updated_at = now(), "
            "last_stripe_event_id = CASE WHEN last_event_created IS NULL "
            "OR CAST(:created AS timestamptz) >= last_event_created "
            "THEN COALESCE(:event_id, last_stripe_event_id) ELSE last_stripe_event_id END, "
            "last_event_created = GREATEST(last_event_created, CAST(:created AS timestamptz)) "
            "WHERE id = :id"
        ),
        {**values, "id": row_id},
    )
    return row_id


async def _sync_items(
    session: AsyncSession, row_id: uuid.UUID, items: list[dict[str, Any]]
) -> None:
    """Seed 001: items upserted by (subscription_id, stripe_price_id); vanished ones removed."""
    rows = [
        {
            "item": item.get("id"),
            "price": stripe_price(item).get("id"),
            "qty": int(item.get("quantity") or 1),
            "start": _iso(item.get("current_period_start")),
            "end": _iso(item.get("current_period_end")),
        }
        for item in items
        if stripe_price(item).get("id")
    ]
    # One row per price, the last item winning, as Stripe allows one item per price.
    by_price = {row["price"]: row for row in rows}
    await session.execute(_SYNC_ITEMS, {"sub": row_id, "rows": json.dumps(list(by_price.values()))})


async def ensure_free_subscription(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    """When no row of the workspace is entitled, its free row (plan `free`, status `active`,
    no Stripe ids) becomes the entitled one: reactivated if it exists, else inserted."""
    entitled = await session.execute(
        text("SELECT 1 FROM subscriptions WHERE workspace_id = :w AND status = ANY(:entitled)"),
        {"w": workspace_id, "entitled": ENTITLED},
    )
    if entitled.first() is not None:
        return
    revived = await session.execute(
        text(
            "UPDATE subscriptions SET status = 'active', canceled_at = NULL, updated_at = now() "
            "WHERE id = (SELECT id FROM subscriptions WHERE workspace_id = :w "
            "AND plan_slug = :free AND stripe_subscription_id IS NULL "
            "ORDER BY created_at LIMIT 1) RETURNING id"
        ),
        {"w": workspace_id, "free": Plan.FREE},
    )
    if revived.first() is None:
        await session.execute(
            text(
                "INSERT INTO subscriptions (workspace_id, plan_slug, status) "
                "VALUES (:w, :free, 'active')"
            ),
            {"w": workspace_id, "free": Plan.FREE},
        )


async def refresh_entitlements(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    known_plans: dict[str | None, PlanRef] | None = None,
    *,
    cause: str | None = None,
) -> str:
    """`workspaces.plan` and `workspace_grants` follow the workspace's entitled row.

    Grants come from `plan_variants.grants` of the entitled row's price (or `known_plans`,
    the plan just resolved from price metadata); a free or missing entitled row grants
    nothing, so ended subscriptions' grants are revoked here. The workspace's entitlements
    snapshot follows at commit (`rules.entitlements`), attributed to `cause`.
    """
    known_price, known = next(iter((known_plans or {}).items()), (None, None))
    params = {
        "w": workspace_id,
        "entitled": ENTITLED,
        "known_price": known_price if known is not None else None,
        "known_grants": json.dumps(known.grants) if known is not None else None,
    }
    found = (await session.execute(_REFRESH_GRANTS, params)).scalar()
    plan = found if found is not None else Plan.FREE
    set_workspace_plan(session, workspace_id, plan)
    mark_changed(session, workspace_id, cause)
    return plan


def invoice_is_failing(invoice: dict[str, Any] | None) -> bool:
    """An open invoice whose payment was attempted and failed: the workspace is in grace."""
    if not isinstance(invoice, dict):
        return False
    return (
        invoice.get("status") == "open"
        and bool(invoice.get("attempted"))
        and int(invoice.get("amount_remaining") or 0) > 0
    )


async def set_grace_from_invoice(
    session: AsyncSession,
    stripe_subscription_id: str,
    latest_invoice: dict[str, Any] | None,
    grace_days: int,
) -> datetime | None:
    """`invoice.payment_failed` sets `grace_period_end` (now + grace days, kept if already
    running) and `invoice.paid` clears it — decided from the subscription's latest invoice as
    Stripe reports it now, so both events converge whatever their order. Status is untouched.
    """
    grace_end = datetime.now(UTC) + timedelta(days=grace_days)
    result = await session.execute(
        text(
            "UPDATE subscriptions SET grace_period_end = CASE WHEN :failing "
            "THEN COALESCE(grace_period_end, CAST(:grace_end AS timestamptz)) ELSE NULL END, "
            "updated_at = now() WHERE stripe_subscription_id = :s "
            "RETURNING workspace_id, grace_period_end"
        ),
        {
            "failing": invoice_is_failing(latest_invoice),
            "grace_end": grace_end,
            "s": stripe_subscription_id,
        },
    )
    row = result.first()
    if row is not None:  # a grace starting or ending moves the workspace's `effective_until`
        mark_changed(session, row.workspace_id)
    value: datetime | None = row.grace_period_end if row is not None else None
    return value
