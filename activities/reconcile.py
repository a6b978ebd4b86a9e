"""Object reconcile: compare Stripe's subscriptions with ours and fix drift no event reported.

Stripe says that in rare cases it fails to create an event at all; the Events API reconcile
cannot see those. This pass lists every live subscription (auto-paged, paced by the Stripe
client), plus a retrieve for each row we hold live that the list no longer shows, and applies
any difference in status, price, cancel_at_period_end or current_period_end through the
webhook's own rules (`rules.reconcile`).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from temporalio import activity

from activities.deps import ActivityDeps
from activities.failures import reported
from core.db import transaction
from core.metrics import RECONCILE_MISMATCHES
from ledger import events as ledger
from models.failures import BillingFailure
from models.schedule_payloads import (
    MAX_SKIPPED_IDS,
    ObjectsReconcileInput,
    ObjectsReconcileResult,
)
from rules.reconcile import ENDED, Local, LocalRow, apply_fresh_subscription, differences
from rules.settlement import SettlementPolicy

logger = logging.getLogger("billing.reconcile")

LOCAL_ROWS = text(
    """
    SELECT stripe_subscription_id, workspace_id, status, stripe_price_id, cancel_at_period_end,
           current_period_end, grace_period_end
    FROM subscriptions WHERE stripe_subscription_id IS NOT NULL
    """
)
FLAGGED = text(
    "SELECT loser_subscription_id FROM billing_duplicate_settlements WHERE action = 'flagged'"
)
MAPPED_CUSTOMERS = text("SELECT stripe_customer_id, workspace_id FROM workspace_billing_customers")


def _failed(
    result: ObjectsReconcileResult, subscription_id: str, step: str, exc: Exception
) -> None:
    kind = exc.type if isinstance(exc, BillingFailure) else type(exc).__name__
    logger.warning("reconcile could not %s %s: %s", step, subscription_id, kind)
    result.failed += 1
    if len(result.failed_subscriptions) < MAX_SKIPPED_IDS:
        result.failed_subscriptions.append(subscription_id)


class ReconcileActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    async def _load(
        self,
    ) -> tuple[dict[str, Local], dict[str, uuid.UUID], set[Any], set[str]]:
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
            # Work the event pipeline is about to do: reconciling it now would count a false
            # mismatch.
            busy = await ledger.in_flight_objects(session)
            flagged = set((await session.execute(FLAGGED)).scalars())
        return locals_, mapped, busy, flagged

    async def _live_subscriptions(self, limit: int) -> list[dict[str, Any]]:
        """Every subscription Stripe does not list as canceled (its default filter)."""
        gateway = self._deps.gateway
        subs: list[dict[str, Any]] = []
        async for sub in gateway.each(
            "subscriptions.list", gateway.client.v1.subscriptions.list_async({"limit": 100})
        ):
            subs.append(sub.to_dict())
            if len(subs) % 100 == 0:
                activity.heartbeat({"phase": "listing", "listed": len(subs)})
            if len(subs) >= limit:
                break
        return subs

    @activity.defn(name="replay.reconcile_objects")
    async def reconcile_objects(self, input: ObjectsReconcileInput) -> ObjectsReconcileResult:
        with reported():
            return await self._reconcile(input)

    async def _reconcile(self, input: ObjectsReconcileInput) -> ObjectsReconcileResult:
        as_of = datetime.now(UTC)
        locals_, mapped, busy, flagged = await self._load()
        listed = await self._live_subscriptions(input.max_subscriptions)
        seen = {s["id"] for s in listed}
        # Rows we hold live that Stripe no longer lists: ended without an event reaching us.
        vanished = [
            sid
            for sid, local in locals_.items()
            if sid not in seen and local.row.status not in ENDED and sid not in busy
        ]
        candidates = list(listed)
        result = ObjectsReconcileResult()
        for sid in vanished:
            try:
                candidates.append(
                    await self._deps.gateway.retrieve_subscription(sid, expand_latest_invoice=True)
                )
            except Exception as exc:  # one subscription never fails the pass: counted, next run
                _failed(result, sid, "retrieve", exc)
        for sub in candidates:
            local = locals_.get(sub["id"])
            customer = sub.get("customer")
            customer = customer.get("id") if isinstance(customer, dict) else customer
            if local is None and customer not in mapped:
                continue  # another product's, or a stranger's: metadata proves nothing
            if sub["id"] in flagged:
                continue  # a duplicate kept live on purpose (flag mode), non-entitled here
            result.checked += 1
            workspace = local.row.workspace_id if local else mapped.get(customer or "")
            if sub["id"] in busy or workspace in busy:
                continue
            diff = differences(sub, local, as_of)
            if not diff:
                continue
            try:
                async with transaction(self._deps.sessions) as session:
                    applied = await apply_fresh_subscription(
                        session,
                        self._deps.gateway,
                        sub["id"],
                        grace_days=self._deps.settings.billing_grace_days,
                        as_of=as_of,
                        settlement=SettlementPolicy.from_settings(self._deps.settings),
                        workspace_hint=workspace,
                    )
            except Exception as exc:  # one subscription never fails the pass: counted, next run
                _failed(result, sub["id"], "apply", exc)
                continue
            if applied.action != "applied":
                continue
            for name in diff:
                RECONCILE_MISMATCHES.labels(name).inc()
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
