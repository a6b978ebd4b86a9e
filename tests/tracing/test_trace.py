"""Support can trace a purchase from checkout session to final plan: Temporal visibility by
WorkspaceId, and the timeline of `billing trace` / the admin trace route."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from core.config import Settings, get_settings
from core.constants import HANDLED_EVENT_TYPES as HANDLED
from core.db import create_sync_engine
from ops import cli
from ops.trace import trace_command
from tests.conftest import ADMIN_TOKEN
from tests.support import eventually
from tests.tracing.conftest import System


async def workflows_of(system: System, workspace_id: uuid.UUID) -> set[str]:
    return {
        execution.id
        async for execution in system.temporal.list_workflows(f'WorkspaceId = "{workspace_id}"')
    }


async def test_one_visibility_query_lists_the_whole_purchase(system: System) -> None:
    workspace_id, owner = await system.workspace()
    key = uuid.uuid4()
    session = await system.checkout(workspace_id, owner, key)
    await system.complete(session["id"])
    event_ids = await system.settled()
    assert await system.plan(workspace_id) == "pro"
    expected = {f"checkout:{workspace_id}:{key}"} | {f"stripe-event:{e}" for e in event_ids}
    assert len(expected) >= 4  # checkout, subscription created, invoice paid, session completed

    # Visibility is eventually consistent on the dev server: poll with a deadline.
    found = await eventually(
        lambda: workflows_of(system, workspace_id), lambda ids: expected <= ids, timeout=20
    )
    assert found == expected


def positions(text: str, needles: list[str]) -> list[int]:
    found = []
    for needle in needles:
        assert needle in text, f"{needle!r} missing from the trace:\n{text}"
        found.append(text.index(needle))
    return found


async def test_trace_shows_stale_customer_recovery_and_failed_payment_in_order(
    system: System,
) -> None:
    workspace_id, owner = await system.workspace()
    abandoned = await system.checkout(workspace_id, owner)
    [stale] = await system.rows(
        "SELECT stripe_customer_id FROM workspace_billing_customers WHERE workspace_id = :w",
        w=workspace_id,
    )
    stale_customer = stale["stripe_customer_id"]
    # The customer disappears at Stripe without a webhook; the next checkout heals it.
    await system.control(f"customers/{stale_customer}/delete-silently")
    key = uuid.uuid4()
    session = await system.checkout(workspace_id, owner, key)
    subscription_id = await system.complete(session["id"])
    await system.settled()
    await system.control(f"subscriptions/{subscription_id}/invoice", {"paid": False})
    await system.settled()
    [fresh] = await system.rows(
        "SELECT stripe_customer_id FROM workspace_billing_customers WHERE workspace_id = :w",
        w=workspace_id,
    )
    assert fresh["stripe_customer_id"] != stale_customer
    [failed_event] = await system.rows(
        "SELECT id FROM stripe_webhook_events WHERE type = 'invoice.payment_failed' "
        "AND workspace_id = :w",
        w=workspace_id,
    )
    # Every event workflow is visible before the trace is read.
    await eventually(
        lambda: workflows_of(system, workspace_id),
        lambda ids: f"stripe-event:{failed_event['id']}" in ids,
    )

    text = await trace_command(system.settings, workspace_id, as_json=False)
    steps = [
        f"checkout session {abandoned['id']} created",
        f"customer invalidated: {stale_customer}",
        f"customer recreated: {stale_customer} → {fresh['stripe_customer_id']}",
        f"checkout session {session['id']} created",
        "stripe event customer.subscription.created",
        "stripe event checkout.session.completed",
        f"checkout session {session['id']} confirmed → subscription {subscription_id}",
        f"stripe event invoice.payment_failed {failed_event['id']}: completed (attempts 1",
        "current plan: pro",
    ]
    found = positions(text, steps)
    assert found == sorted(found), text
    # Workflows come with their Temporal UI links, and durations since checkout are shown.
    checkout_workflow = f"checkout:{workspace_id}:{key}"
    assert f"workflow CheckoutWorkflow {checkout_workflow}: completed" in text
    assert f"/namespaces/default/workflows/{checkout_workflow}/" in text
    assert f"subscription row pro {subscription_id}: now past_due, grace until" in text

    # The admin route returns the same timeline as JSON; it is closed without the token.
    url = f"/api/v1/stripe/workspaces/{workspace_id}/trace"
    assert (await system.http.get(url)).status_code == 401
    wrong = await system.http.get(url, headers={"Authorization": "Bearer wrong-token-123"})
    assert wrong.status_code == 401
    missing = await system.http.get(
        f"/api/v1/stripe/workspaces/{uuid.uuid4()}/trace",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert missing.status_code == 404
    response = await system.http.get(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200
    trace: dict[str, Any] = response.json()
    assert trace["plan"] == "pro" and trace["temporal_error"] is None
    kinds = [step["kind"] for step in trace["steps"]]
    assert kinds[-1] == "plan"
    for kind in ("checkout_key", "customer_recreated", "checkout_confirmed", "workflow"):
        assert kind in kinds
    times = [step["at"] for step in trace["steps"]]
    assert times == sorted(times)
    events = [s for s in trace["steps"] if s["kind"] == "stripe_event"]
    assert {s["details"]["status"] for s in events if s["details"]["type"] in HANDLED} == {
        "completed"
    }
    confirmed = next(s for s in trace["steps"] if s["kind"] == "checkout_confirmed")
    assert confirmed["since_checkout_seconds"] > 0


def test_billing_trace_command(
    database_url: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    workspace_id = uuid.uuid4()
    engine = create_sync_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO workspaces (id, name) VALUES (:id, 'Trace Co')"), {"id": workspace_id}
        )
    engine.dispose()
    for name, value in settings.model_dump().items():
        if value is not None:
            monkeypatch.setenv(name.upper(), str(value))
    get_settings.cache_clear()
    try:
        assert cli.main(["trace", "--workspace", str(workspace_id)]) == 0
        printed = capsys.readouterr().out
        assert f"workspace {workspace_id} (Trace Co): plan free" in printed
        assert "current plan: free" in printed
        assert cli.main(["trace", "--workspace", str(uuid.uuid4())]) == 1
        assert "no such workspace" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
