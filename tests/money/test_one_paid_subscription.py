"""One payable session and one paid subscription per workspace, through the real stack."""

from __future__ import annotations

import asyncio

import pytest

from tests.money.conftest import Money
from tests.support import eventually, fetch_all, price_id


async def test_two_tabs_leave_one_payable_session_and_one_subscription(money: Money) -> None:
    workspace_id, user_id = await money.owner()
    pro, business = await asyncio.gather(
        money.checkout(workspace_id, user_id, "pro"),
        money.checkout(workspace_id, user_id, "business", "yearly"),
    )
    assert pro.status_code == business.status_code == 200, (pro.text, business.text)
    sessions = {pro.json()["id"]: "pro", business.json()["id"]: "business"}
    assert len(sessions) == 2
    states = {
        sid: str((await money.shop.stripe.v1.checkout.sessions.retrieve_async(sid)).status)
        for sid in sessions
    }
    # Serialized: whichever ran second expired the other in Stripe first.
    assert sorted(states.values()) == ["expired", "open"], states
    [survivor] = [sid for sid, state in states.items() if state == "open"]
    [expired] = [sid for sid, state in states.items() if state == "expired"]

    # Both tabs try to pay: the expired session cannot be paid, as at Stripe.
    with pytest.raises(Exception, match="400"):
        await money.pay(expired)
    await money.pay(survivor)
    await money.shop.settled(workspace_id)

    customer = await money.mapped_customer(workspace_id)
    assert len(await money.live_subscriptions(customer)) == 1
    state = await money.state(workspace_id)
    assert state["plan"] == sessions[survivor] and state["entitled"] == [sessions[survivor]]
    assert (await money.status(workspace_id, user_id, survivor))["status"] == "confirmed"
    assert (await money.status(workspace_id, user_id, expired))["status"] == "expired"


async def test_same_plan_in_two_tabs_answers_the_same_session(money: Money) -> None:
    workspace_id, user_id = await money.owner()
    first = await money.checkout(workspace_id, user_id, "pro")
    second = await money.checkout(workspace_id, user_id, "pro")
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["url"] == second.json()["url"]


async def test_a_completed_paid_session_not_yet_reported_blocks_a_new_checkout(
    money: Money,
) -> None:
    workspace_id, user_id = await money.owner()
    first = await money.checkout(workspace_id, user_id, "pro")
    await money.shop.control("webhooks/pause")
    await money.pay(first.json()["id"])  # paid, but our side has not heard of it
    other = await money.checkout(workspace_id, user_id, "business")
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "SUBSCRIPTION_ALREADY_ACTIVE"
    await money.shop.control("webhooks/resume")
    await money.shop.settled(workspace_id)
    assert (await money.state(workspace_id))["plan"] == "pro"


@pytest.mark.parametrize("refund_window_hours", [48, 0])
async def test_a_second_live_subscription_is_settled_by_the_winner_rule(
    money: Money, refund_window_hours: int
) -> None:
    money.settings.billing_duplicate_refund_window_hours = refund_window_hours
    workspace_id, user_id = await money.owner()
    session = (await money.checkout(workspace_id, user_id, "pro")).json()["id"]
    await money.pay(session)
    await money.shop.settled(workspace_id)
    customer = await money.mapped_customer(workspace_id)
    [ours] = await money.live_subscriptions(customer)

    # A sales action in the dashboard: business yearly on the same customer, paid at once.
    extra = await money.shop.stripe.v1.subscriptions.create_async(
        {"customer": customer, "items": [{"price": price_id("business", "yearly")}]}
    )
    await money.shop.settled(workspace_id)

    live = await money.live_subscriptions(customer)
    assert [s.id for s in live] == [extra.id]  # business beats pro: the rule's plan step
    [settlement] = await money.settlements(workspace_id)
    assert (settlement.winner_subscription_id, settlement.loser_subscription_id) == (
        extra.id,
        ours.id,
    )
    assert settlement.rule == "plan"
    loser = await money.shop.stripe.v1.subscriptions.retrieve_async(ours.id)
    assert loser.status == "canceled"
    if refund_window_hours:  # a fresh duplicate purchase: money back in full
        assert settlement.action == "refunded" and settlement.amount_refunded > 0
        refunds = await money.shop.stripe.v1.refunds.list_async()
        assert sum(r.amount for r in refunds.data) == settlement.amount_refunded
    else:  # an older one: cancelled with proration, unused time as balance credit
        assert settlement.action == "credited" and settlement.amount_refunded == 0
        balance = (await money.shop.stripe.v1.customers.retrieve_async(customer)).balance
        assert balance == -settlement.amount_credited

    state = await money.state(workspace_id)
    assert state["plan"] == "business" and state["entitled"] == ["business"]
    for _ in range(3):  # the object reconcile applies the same rule: nothing flips
        await money.replay()
        assert (await money.state(workspace_id))["plan"] == "business"
    assert len(await money.settlements(workspace_id)) == 1


async def test_flag_mode_records_and_leaves_stripe_alone(money: Money) -> None:
    money.settings.billing_duplicate_subscription_action = "flag"
    workspace_id, user_id = await money.owner()
    await money.pay((await money.checkout(workspace_id, user_id, "business")).json()["id"])
    await money.shop.settled(workspace_id)
    customer = await money.mapped_customer(workspace_id)
    extra = await money.shop.stripe.v1.subscriptions.create_async(
        {"customer": customer, "items": [{"price": price_id("pro")}]}
    )
    await money.shop.settled(workspace_id)
    assert len(await money.live_subscriptions(customer)) == 2  # Stripe untouched
    [settlement] = await money.settlements(workspace_id)
    assert settlement.action == "flagged" and settlement.loser_subscription_id == extra.id
    for _ in range(3):
        await money.replay()
        state = await money.state(workspace_id)
        assert state["plan"] == "business" and state["entitled"] == ["business"]


async def test_unpaid_checkout_is_never_confirmed(money: Money) -> None:
    workspace_id, user_id = await money.owner()
    session = (await money.checkout(workspace_id, user_id, "pro")).json()["id"]
    completed = await money.pay(session, "incomplete")
    await money.shop.settled(workspace_id)
    answer = await money.status(workspace_id, user_id, session)
    assert answer == {"status": "pending", "subscription_id": None, "payment": "requires_action"}
    assert (await money.state(workspace_id))["plan"] == "free"

    # The customer pays the open invoice later: now it is confirmed.
    await money.shop.invoice(completed["subscription"], paid=True)
    await money.shop.settled(workspace_id)

    async def answered() -> object:
        return await money.status(workspace_id, user_id, session)

    confirmed = await eventually(answered, lambda a: a["status"] == "confirmed")  # type: ignore[index]
    assert confirmed["subscription_id"] == completed["subscription"]  # type: ignore[index]
    assert (await money.state(workspace_id))["plan"] == "pro"


@pytest.mark.parametrize("succeeded", [True, False])
async def test_a_bank_debit_is_processing_until_it_settles(money: Money, succeeded: bool) -> None:
    workspace_id, user_id = await money.owner()
    session = (await money.checkout(workspace_id, user_id, "pro")).json()["id"]
    await money.pay(session, "processing")
    await money.shop.settled(workspace_id)
    answer = await money.status(workspace_id, user_id, session)
    assert answer == {"status": "pending", "subscription_id": None, "payment": "processing"}
    assert (await money.state(workspace_id))["plan"] == "free"

    await money.shop.control(f"checkout/sessions/{session}/settle", {"succeeded": succeeded})
    await money.shop.settled(workspace_id)
    answer = await money.status(workspace_id, user_id, session)
    if succeeded:
        assert answer["status"] == "confirmed"
        assert (await money.state(workspace_id))["plan"] == "pro"
    else:
        assert answer["status"] == "failed" and answer["reason"] == "payment_failed"
        assert (await money.state(workspace_id))["plan"] == "free"


async def test_a_session_made_elsewhere_cannot_claim_a_workspace(money: Money) -> None:
    victim, victim_owner = await money.owner()
    await money.pay((await money.checkout(victim, victim_owner, "pro")).json()["id"])
    await money.shop.settled(victim)
    before = await money.state(victim)
    victim_customer = await money.mapped_customer(victim)

    # Someone holding a key makes a session for a new customer, naming the victim everywhere.
    stranger = await money.shop.stripe.v1.customers.create_async({"email": "x@example.com"})
    claim = {"workspace_id": str(victim)}
    forged = await money.shop.stripe.v1.checkout.sessions.create_async(
        {
            "mode": "subscription",
            "customer": stranger.id,
            "client_reference_id": str(victim),
            "metadata": claim,
            "subscription_data": {"metadata": claim},
            "line_items": [{"price": price_id("business", "yearly"), "quantity": 1}],
            "success_url": "http://evil.test/ok",
            "cancel_url": "http://evil.test/cancel",
        }
    )
    done = await money.pay(forged.id)
    await money.shop.settled(victim)

    assert await money.state(victim) == before
    assert await money.mapped_customer(victim) == victim_customer
    rows = await money.shop.events()
    forged_events = [
        e["id"]
        for e in rows
        if (e["data"]["object"].get("id") in (forged.id, done["subscription"]))
        or e["data"]["object"].get("subscription") == done["subscription"]
    ]
    assert forged_events
    ledger = {
        r.id: (r.status, r.reason)
        for r in await fetch_all(
            money.shop.sessions,
            "SELECT id, status, reason FROM stripe_webhook_events WHERE id = ANY(:ids)",
            ids=forged_events,
        )
    }
    assert set(ledger.values()) == {("ignored", "not_ours")}, ledger
    # Stripe itself was not touched on the stranger's behalf.
    sub = await money.shop.stripe.v1.subscriptions.retrieve_async(done["subscription"])
    assert sub.status == "active"
