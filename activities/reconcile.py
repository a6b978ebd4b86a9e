"""Object reconcile: compare Stripe's subscriptions with ours and fix drift no event reported.

Stripe says that in rare cases it fails to create an event at all; the Events API reconcile
cannot see those. This pass lists every live subscription (100 per call, paced by the shared
token bucket), plus a retrieve for each row we hold live that the list no longer shows, and
applies any difference in status, price, cancel_at_period_end or current_period_end through
the webhook's own rules (`reconcile_apply`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from prometheus_client import Counter
from sqlalchemy import text
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.reconcile_apply import (
    LocalRow,
    apply_fresh_subscription,
    fetch_subscription,
    held_by_expired_grace,
)
from core.db import transaction
from core.stripe_gateway import shared_gateway, stripe_error, to_dict
from models.schedule_payloads import ObjectsReconcileInput, ObjectsReconcileResult
from rules.subscription_state import STATUS_MAP

logger = logging.getLogger("billing.reconcile")

MISMATCHES = Counter(
    "billing_reconcile_mismatches",
    "Subscriptions whose local row differed from Stripe and were re-applied",
    ["field"],
)
ENDED = ("canceled", "incomplete_expired")

LOCAL_ROWS = text(
    """
    SELECT stripe_subscription_id, workspace_id, status, stripe_price_id, cancel_at_period_end,
           current_period_end, grace_period_end
    FROM subscriptions WHERE stripe_subscription_id IS NOT NULL
    """
)
MAPPED_CUSTOMERS = text("SELECT stripe_customer_id, workspace_id FROM workspace_billing_customers")
# Work the event pipeline is about to do: reconciling it now would count a false mismatch.
IN_FLIGHT = text(
    """
    SELECT DISTINCT workspace_id, stripe_object_id FROM stripe_webhook_events
    WHERE status IN ('pending', 'processing')
    """
)


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


class ReconcileActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    async def _load(self) -> tuple[dict[str, Local], dict[str, uuid.UUID], set[Any]]:
        async with transaction(self._deps.sessions) as session:
            locals_ = {
                r.stripe_subscription_id: Local(
                    LocalRow(r.workspace_id, r.status, r.grace_period_end),
                    r.stripe_price_id,
                    r.cancel_at_period_end,
                    r.current_period_end,
                )
                for r in await session.execute(LOCAL_ROWS)
            }
            mapped = {
                r.stripe_customer_id: r.workspace_id
                for r in await session.execute(MAPPED_CUSTOMERS)
            }
            busy: set[Any] = set()
            for r in await session.execute(IN_FLIGHT):
                busy.update(v for v in (r.workspace_id, r.stripe_object_id) if v is not None)
        return locals_, mapped, busy

    async def _live_subscriptions(self, limit: int) -> list[dict[str, Any]]:
        """Every subscription Stripe does not list as canceled (its default filter)."""
        gateway = shared_gateway(self._deps)
        params: Any = {"limit": 100}
        subs: list[dict[str, Any]] = []
        while len(subs) < limit:
            await gateway.bucket.acquire()
            try:
                page = await gateway.client.v1.subscriptions.list_async(params)
            except stripe.StripeError as exc:
                raise stripe_error(exc, "subscriptions.list") from None
            subs.extend(to_dict(s) for s in page.data)
            activity.heartbeat({"phase": "listing", "listed": len(subs)})
            if not page.has_more or not page.data:
                break
            params["starting_after"] = page.data[-1].id
        return subs

    @activity.defn(name="replay.reconcile_objects")
    async def reconcile_objects(self, input: ObjectsReconcileInput) -> ObjectsReconcileResult:
        as_of = datetime.now(UTC)
        locals_, mapped, busy = await self._load()
        listed = await self._live_subscriptions(input.max_subscriptions)
        seen = {s["id"] for s in listed}
        # Rows we hold live that Stripe no longer lists: ended without an event reaching us.
        vanished = [
            sid
            for sid, local in locals_.items()
            if sid not in seen and local.row.status not in ENDED and sid not in busy
        ]
        candidates = list(listed)
        for sid in vanished:
            try:
                candidates.append(await fetch_subscription(self._deps, sid))
            except ApplicationError as exc:
                if not exc.non_retryable:
                    raise
                logger.warning("reconcile could not retrieve %s: %s", sid, exc.type)
        result = ObjectsReconcileResult()
        for sub in candidates:
            local = locals_.get(sub["id"])
            customer = sub.get("customer")
            customer = customer.get("id") if isinstance(customer, dict) else customer
            ours = (
                local is not None
                or customer in mapped
                or bool((sub.get("metadata") or {}).get("workspace_id"))
            )
            if not ours:
                continue  # another product on the same Stripe account
            result.checked += 1
            workspace = local.row.workspace_id if local else mapped.get(customer or "")
            if sub["id"] in busy or workspace in busy:
                continue
            diff = differences(sub, local, as_of)
            if not diff:
                continue
            try:
                applied = await apply_fresh_subscription(
                    self._deps,
                    sub["id"],
                    as_of=as_of,
                    workspace_hint=str(workspace) if workspace else None,
                )
            except ApplicationError as exc:
                if not exc.non_retryable:
                    raise
                logger.warning("reconcile could not apply %s: %s", sub["id"], exc.type)
                continue
            if applied.action != "applied":
                continue
            for name in diff:
                MISMATCHES.labels(name).inc()
            result.mismatches += 1
            result.mismatched_subscriptions.append(sub["id"])
            logger.warning(
                "reconcile: %s differed from Stripe in %s; applied (plan now %s)",
                sub["id"],
                ",".join(diff),
                applied.plan,
            )
            activity.heartbeat({"phase": "applying", "mismatches": result.mismatches})
        return result
