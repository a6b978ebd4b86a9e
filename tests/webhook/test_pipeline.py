"""End to end: the emulator delivers signed webhooks to the live API; a worker applies them."""

from __future__ import annotations

from typing import Any

from temporalio.testing import WorkflowEnvironment

from core.constants import event_workflow_id
from tests.support import fetch_all
from tests.webhook.conftest import Shop, workspace_state


async def test_paid_checkout_gives_the_paid_plan_once(
    shop: Shop, live_api: str, billing_worker: Any, temporal_env: WorkflowEnvironment
) -> None:
    buyer = await shop.buyer()
    session_id, sub_id = await shop.checkout(buyer, "pro", "monthly")
    await shop.settled(buyer.workspace_id)

    state = await workspace_state(shop.sessions, buyer.workspace_id)
    assert state["plan"] == "pro"
    assert state["entitled"] == ["pro"]
    [row] = state["rows"]
    assert row["status"] == "active" and row["stripe_subscription_id"] == sub_id
    assert row["interval"] == "monthly" and row["current_period_end"] is not None
    assert state["grants"] == {"seats": 5, "forms": 50}

    [checkout] = await fetch_all(
        shop.sessions,
        "SELECT workspace_id, status, stripe_subscription_id, finalized_at, plan_slug "
        "FROM checkout_sessions WHERE id = :id",
        id=session_id,
    )
    assert checkout.workspace_id == buyer.workspace_id and checkout.status == "confirmed"
    assert checkout.stripe_subscription_id == sub_id and checkout.finalized_at is not None
    assert checkout.plan_slug == "pro"
    items = await fetch_all(
        shop.sessions,
        "SELECT i.stripe_price_id, i.quantity FROM subscription_items i "
        "JOIN subscriptions s ON s.id = i.subscription_id WHERE s.stripe_subscription_id = :s",
        s=sub_id,
    )
    assert [(i.stripe_price_id, i.quantity) for i in items] == [(row["stripe_price_id"], 1)]

    events = await shop.events()
    ledger = {
        r.id: r
        for r in await fetch_all(
            shop.sessions,
            "SELECT id, status, attempts, workspace_id, processed_at FROM stripe_webhook_events "
            "WHERE id = ANY(:ids)",
            ids=[e["id"] for e in events],
        )
    }
    assert set(ledger) == {e["id"] for e in events}
    for event in events:
        entry = ledger[event["id"]]
        if event["type"] in (
            "customer.subscription.created",
            "invoice.paid",
            "checkout.session.completed",
        ):
            assert (entry.status, entry.attempts) == ("completed", 1), event["type"]
            assert entry.workspace_id == buyer.workspace_id
        else:
            assert entry.status == "ignored", event["type"]
            assert entry.processed_at is not None

    # Search attributes: one query shows the purchase's events in the Temporal UI.
    client = temporal_env.client
    query = f"WorkspaceId = '{buyer.workspace_id}' AND StripeSubscriptionId = '{sub_id}'"
    found = [w.id async for w in client.list_workflows(query)]
    handled = {event_workflow_id(e["id"]) for e in events if ledger[e["id"]].status == "completed"}
    assert set(found) <= handled
    describe = await client.get_workflow_handle(sorted(handled)[0]).describe()
    assert describe.typed_search_attributes is not None
