"""Property, stack tier: the shapes that lose money, shuffled, duplicated and delayed.

Each example buys, or tries to, the ways a careless user, a sales rep and an attacker would:
our checkout (paid, unpaid, paid by a bank debit that settles or fails), a second
subscription made directly for the workspace's customer, a session made elsewhere for a
stranger that names the workspace, a cancellation racing an upgrade. Webhooks are held, then
everything Stripe said is delivered to the real endpoint in random order with duplicates,
then the emulator delivers what settlement itself caused. Afterwards:

- Stripe bills at most one live subscription for the workspace's customer;
- the entitled row is the winner rule applied to Stripe's live set (free when none);
- the stranger's subscription never reaches the workspace;
- every handled event is final in the ledger, applied once.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.constants import HANDLED_EVENT_TYPES
from tests.money.conftest import Money
from tests.support import eventually, fetch_all, price_id
from tests.webhook.test_order_property import deliver, plan_of

EXAMPLES = int(os.environ.get("BILLING_STACK_PROPERTY_EXAMPLES", "25"))
PLANS = [("pro", "monthly"), ("pro", "yearly"), ("business", "monthly"), ("business", "yearly")]
CHECKOUT = st.tuples(
    st.just("checkout"),
    st.sampled_from(PLANS),
    st.sampled_from(["paid", "paid", "incomplete", "processing"]),
)
OPS = st.lists(
    st.one_of(
        CHECKOUT,
        st.tuples(st.just("direct"), st.sampled_from(PLANS), st.none()),
        st.tuples(st.just("stranger"), st.sampled_from(PLANS), st.none()),
        st.tuples(st.just("settle"), st.none(), st.booleans()),
        st.tuples(st.just("cancel"), st.none(), st.none()),
        st.tuples(st.just("upgrade"), st.sampled_from(PLANS), st.none()),
    ),
    min_size=1,
    max_size=5,
)


class Buyer:
    """Applies generated operations to Stripe and the API, skipping what either refuses."""

    def __init__(self, money: Money, workspace_id: uuid.UUID, user_id: uuid.UUID) -> None:
        self.money = money
        self.workspace_id = workspace_id
        self.user_id = user_id
        self.processing: list[str] = []
        self.stranger_subscriptions: list[str] = []

    async def customer(self) -> str | None:
        rows = await fetch_all(
            self.money.shop.sessions,
            "SELECT stripe_customer_id FROM workspace_billing_customers WHERE workspace_id = :w",
            w=self.workspace_id,
        )
        return rows[0].stripe_customer_id if rows else None

    async def live(self) -> list[Any]:
        customer = await self.customer()
        return await self.money.live_subscriptions(customer) if customer else []

    async def apply(self, kind: str, plan: Any, arg: Any) -> None:
        stripe = self.money.shop.stripe
        if kind == "checkout":
            response = await self.money.checkout(self.workspace_id, self.user_id, *plan)
            if response.status_code != 200:  # 409: already paid, as our side knows it
                return
            session = response.json()["id"]
            try:
                await self.money.pay(session, arg)
            except httpx.HTTPStatusError:
                return  # already completed or expired by a later checkout
            if arg == "processing":
                self.processing.append(session)
        elif kind == "direct":
            customer = await self.customer()
            if customer:
                await stripe.v1.subscriptions.create_async(
                    {"customer": customer, "items": [{"price": price_id(*plan)}]}
                )
        elif kind == "stranger":
            other = await stripe.v1.customers.create_async({"email": "s@example.com"})
            claim = {"workspace_id": str(self.workspace_id)}
            session = await stripe.v1.checkout.sessions.create_async(
                {
                    "mode": "subscription",
                    "customer": other.id,
                    "client_reference_id": str(self.workspace_id),
                    "metadata": claim,
                    "subscription_data": {"metadata": claim},
                    "line_items": [{"price": price_id(*plan), "quantity": 1}],
                    "success_url": "http://evil.test/ok",
                    "cancel_url": "http://evil.test/cancel",
                }
            )
            done = await self.money.pay(session.id)
            self.stranger_subscriptions.append(done["subscription"])
        elif kind == "settle" and self.processing:
            session = self.processing.pop(0)
            await self.money.shop.control(f"checkout/sessions/{session}/settle", {"succeeded": arg})
        elif kind in ("cancel", "upgrade"):
            live = await self.live()
            if not live:
                return
            if kind == "cancel":
                await self.money.shop.update(live[0].id, status="canceled")
            else:
                await self.money.shop.update(live[0].id, price=price_id(*plan))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Most examples start with a purchase of ours, so the customer exists for what follows.
@given(
    ops=st.tuples(CHECKOUT).map(list) | st.just([]), more=OPS, rnd=st.randoms(use_true_random=False)
)
async def test_no_order_of_events_bills_twice_or_grants_what_nobody_paid(
    money: Money, live_api: str, ops: list[Any], more: list[Any], rnd: random.Random
) -> None:
    workspace_id, user_id = await money.owner()
    buyer = Buyer(money, workspace_id, user_id)
    await money.shop.control("webhooks/pause")
    earlier = {e["id"] for e in await money.shop.events()}  # other examples' events
    for kind, plan, arg in ops + more:
        await buyer.apply(kind, plan, arg)
    events = [e for e in await money.shop.events() if e["id"] not in earlier]
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as http:
        await deliver(http, events, rnd)
    # What settlement itself made Stripe say (cancellations, refunds) arrives as webhooks.
    await money.shop.control("webhooks/resume")
    await money.shop.settled(workspace_id, timeout=60)

    live = await buyer.live()
    assert len(live) <= 1, [s.id for s in live]
    state = await money.state(workspace_id)
    # Settled: the one live subscription is the rule's winner, and the workspace's plan.
    expected = plan_of(live[0].to_dict()) if live else "free"
    assert state["plan"] == expected, (state, [s.id for s in live])
    # A workspace billing never touched has no row at all; any other has exactly one.
    assert state["entitled"] == [expected] or (expected == "free" and state["rows"] == [])
    rows = {r["stripe_subscription_id"] for r in state["rows"]}
    assert not rows & set(buyer.stranger_subscriptions)

    handled = [e["id"] for e in events if e["type"] in HANDLED_EVENT_TYPES]
    ledger = await eventually(
        lambda: fetch_all(
            money.shop.sessions,
            "SELECT id, status, attempts FROM stripe_webhook_events WHERE id = ANY(:ids)",
            ids=handled,
        ),
        lambda rs: (
            len(rs) == len(handled) and all(r.status in ("completed", "ignored") for r in rs)
        ),
        timeout=60,
    )
    assert all(r.attempts <= 1 for r in ledger), [r for r in ledger if r.attempts > 1]
