"""Property: any delivery order, duplication and delay of a lifecycle's events converges.

Hypothesis generates subscription lifecycles, driven through the emulator's control routes
with webhooks paused. In phases, the events so far (from the Events API, signed here) are
delivered to the real endpoint in random order, with random duplicates and small delays,
some only after newer state was applied. Afterwards the rows must say what Stripe says.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.constants import HANDLED_EVENT_TYPES
from rules.subscription_state import invoice_is_failing
from tests.support import eventually, fetch_all, price_id
from tests.webhook.conftest import Buyer, Shop, signed, workspace_state

WEBHOOK = "/api/v1/stripe/webhook"
PLANS = [("pro", "monthly"), ("pro", "yearly"), ("business", "monthly")]
STEP = st.one_of(
    st.tuples(st.just("change_plan"), st.sampled_from(PLANS)),
    st.tuples(st.just("invoice"), st.booleans()),
    st.tuples(st.just("cancel_at_period_end"), st.booleans()),
    st.tuples(st.just("status"), st.sampled_from(["trialing", "past_due", "unpaid", "active"])),
    st.tuples(st.just("delete"), st.none()),
    st.tuples(st.just("create"), st.sampled_from(["paid", "incomplete"])),
)
LIFECYCLE = st.tuples(
    st.sampled_from(["paid", "incomplete"]),
    st.lists(STEP, min_size=1, max_size=6),
    st.booleans(),  # the customer is deleted at the end
)


class Lifecycle:
    """Applies generated steps to Stripe (the emulator), skipping steps Stripe would refuse."""

    def __init__(self, shop: Shop, buyer: Buyer) -> None:
        self.shop = shop
        self.buyer = buyer
        self.subscriptions: list[str] = []
        self.live: str | None = None

    async def create(self, outcome: str) -> None:
        _, sub_id = await self.shop.checkout(self.buyer, "pro", "monthly", outcome=outcome)
        self.subscriptions.append(sub_id)
        self.live = sub_id

    async def step(self, kind: str, arg: Any) -> None:
        if kind == "create":
            if self.live is None:
                await self.create(arg)
            return
        if self.live is None:
            return
        if kind == "change_plan":
            await self.shop.update(self.live, price=price_id(*arg))
        elif kind == "invoice":
            await self.shop.invoice(self.live, paid=arg)
        elif kind == "cancel_at_period_end":
            await self.shop.update(self.live, cancel_at_period_end=arg)
        elif kind == "status":
            await self.shop.update(self.live, status=arg)
        elif kind == "delete":
            await self.shop.update(self.live, status="canceled")
            self.live = None


async def deliver(
    http: httpx.AsyncClient, events: list[dict[str, Any]], rnd: random.Random
) -> None:
    """Each event once or more, shuffled, a few in flight at once, with small delays."""
    copies = [e for e in events for _ in range(rnd.choice((1, 1, 2, 3)))]
    rnd.shuffle(copies)
    delays = [rnd.choice((0.0, 0.0, 0.01, 0.05)) for _ in copies]
    gate = asyncio.Semaphore(8)

    async def send(event: dict[str, Any], delay: float) -> None:
        async with gate:
            await asyncio.sleep(delay)
            body, headers = signed(event)
            response = await http.post(WEBHOOK, content=body, headers=headers)
            assert response.status_code == 200, response.text

    await asyncio.gather(*(send(e, d) for e, d in zip(copies, delays, strict=True)))


async def stripe_truth(shop: Shop, subscription_ids: list[str]) -> list[dict[str, Any]]:
    headers = {"Authorization": "Bearer sk_test_webhook_tests"}
    found = []
    async with httpx.AsyncClient(base_url=shop.emulator_url, timeout=10) as http:
        for sub_id in subscription_ids:
            response = await http.get(
                f"/v1/subscriptions/{sub_id}",
                params={"expand[]": "latest_invoice"},
                headers=headers,
            )
            response.raise_for_status()
            found.append(response.json())
    return found


def plan_of(subscription: dict[str, Any]) -> str:
    return str(subscription["items"]["data"][0]["price"]["metadata"]["plan_slug"])


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lifecycle=LIFECYCLE, rnd=st.randoms(use_true_random=False))
async def test_any_delivery_order_converges_to_stripe_state(
    shop: Shop, live_api: str, billing_worker: Any, lifecycle: Any, rnd: random.Random
) -> None:
    first, steps, delete_customer = lifecycle
    await shop.control("webhooks/pause")
    buyer = await shop.buyer()
    run = Lifecycle(shop, buyer)
    delivered: set[str] = set()
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as http:
        await run.create(first)
        for index, (kind, arg) in enumerate(steps):
            await run.step(kind, arg)
            if rnd.random() < 0.4 or index == len(steps) - 1:
                # A phase: some of the events so far, old ones possibly for the first time.
                mine = await lifecycle_events(shop, buyer, run.subscriptions)
                batch = [e for e in mine if rnd.random() < 0.6]
                await deliver(http, batch, rnd)
                delivered.update(e["id"] for e in batch)
        if delete_customer:
            await shop.stripe.v1.customers.delete_async(buyer.customer_id)
        mine = await lifecycle_events(shop, buyer, run.subscriptions)
        await deliver(http, mine, rnd)  # everything at least once more, shuffled

    handled = [e["id"] for e in mine if e["type"] in HANDLED_EVENT_TYPES]

    async def ledger() -> list[Any]:
        return await fetch_all(
            shop.sessions,
            "SELECT id, status, attempts, last_error FROM stripe_webhook_events "
            "WHERE id = ANY(:ids)",
            ids=handled,
        )

    rows = await eventually(
        ledger,
        lambda rs: len(rs) == len(handled) and all(r.status == "completed" for r in rs),
        timeout=60,
    )
    # Each event id processed to completion exactly once, whatever the duplicates.
    assert all(r.attempts == 1 for r in rows), [r for r in rows if r.attempts != 1]

    truth = await stripe_truth(shop, run.subscriptions)
    state = await workspace_state(shop.sessions, buyer.workspace_id)
    by_id = {r["stripe_subscription_id"]: r for r in state["rows"] if r["stripe_subscription_id"]}
    assert set(by_id) == set(run.subscriptions)
    entitled_stripe = [s for s in truth if s["status"] in ("active", "trialing", "past_due")]
    assert len(entitled_stripe) <= 1
    for sub in truth:
        row = by_id[sub["id"]]
        assert row["status"] == sub["status"], (sub["id"], row, sub["status"])
        assert row["plan_slug"] == plan_of(sub)
        assert row["stripe_price_id"] == sub["items"]["data"][0]["price"]["id"]
        assert row["cancel_at_period_end"] == sub["cancel_at_period_end"]
        assert (row["grace_period_end"] is not None) == invoice_is_failing(sub["latest_invoice"])
    expected_plan = plan_of(entitled_stripe[0]) if entitled_stripe else "free"
    assert state["plan"] == expected_plan
    assert state["entitled"] == [expected_plan]  # exactly one entitled row, never two
    if delete_customer:
        mapping = await fetch_all(
            shop.sessions,
            "SELECT 1 FROM workspace_billing_customers WHERE workspace_id = :w",
            w=buyer.workspace_id,
        )
        assert mapping == []


async def lifecycle_events(
    shop: Shop, buyer: Buyer, subscriptions: list[str]
) -> list[dict[str, Any]]:
    """This buyer's events: its customer's, its subscriptions', their invoices' and sessions'."""
    mine = []
    for event in await shop.events():
        obj = event["data"]["object"]
        customer = obj["id"] if obj.get("object") == "customer" else obj.get("customer")
        if customer == buyer.customer_id or obj.get("id") in subscriptions:
            mine.append(event)
    return mine
