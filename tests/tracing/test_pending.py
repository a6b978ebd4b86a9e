"""A delayed webhook leaves a pending state the return page polls; a long pending reconciles
the session from Stripe exactly as the webhook would, and the late webhooks change nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from temporalio.client import WorkflowExecutionStatus

from api.main import create_app
from core.config import Settings
from tests.conftest import bearer, create_workspace
from tests.support import eventually
from tests.tracing.conftest import System, sample


async def snapshot(system: System, workspace_id: uuid.UUID) -> dict[str, Any]:
    """Everything a purchase leaves behind that a late webhook must not change."""
    return {
        "plan": await system.plan(workspace_id),
        "subscriptions": await system.rows(
            "SELECT id, plan_slug, status, stripe_subscription_id, stripe_customer_id, "
            "stripe_price_id, interval FROM subscriptions WHERE workspace_id = :w ORDER BY id",
            w=workspace_id,
        ),
        "checkout": await system.rows(
            "SELECT id, status, stripe_subscription_id, finalized_at FROM checkout_sessions "
            "WHERE workspace_id = :w",
            w=workspace_id,
        ),
        "customers": await system.rows(
            "SELECT stripe_customer_id FROM workspace_billing_customers WHERE workspace_id = :w",
            w=workspace_id,
        ),
        "grants": await system.rows(
            "SELECT grant_program_code, value FROM workspace_grants WHERE workspace_id = :w "
            "ORDER BY grant_program_code",
            w=workspace_id,
        ),
    }


async def test_missed_webhook_is_reconciled_and_the_late_one_changes_nothing(
    system: System,
) -> None:
    workspace_id, owner = await system.workspace()
    _, member = await system.workspace()  # a user of another workspace
    await system.control("webhooks/pause")
    session = await system.checkout(workspace_id, owner)
    subscription_id = await system.complete(session["id"])
    reconciled_before = sample("billing_checkout_reconcile_total", outcome="confirmed")
    finalized_before = sample("billing_checkout_finalize_seconds_count")

    # The redirect happened, no webhook came: pending, and still the free plan.
    first = await system.status(workspace_id, owner, session["id"])
    assert first.status_code == 200
    assert first.json() == {"status": "pending", "subscription_id": None}
    assert await system.plan(workspace_id) == "free"
    # Not a member: the workspace is not found for them (access checks never leak it).
    assert (await system.status(workspace_id, member, session["id"])).status_code == 404

    # Past the threshold a poll starts the reconcile; a later poll sees it confirmed.
    async def poll() -> dict[str, Any]:
        response = await system.status(workspace_id, owner, session["id"])
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    confirmed = await eventually(poll, lambda body: body["status"] != "pending")
    assert confirmed == {"status": "confirmed", "subscription_id": subscription_id}
    assert await system.plan(workspace_id) == "pro"
    handle = system.temporal.get_workflow_handle(f"checkout-reconcile:{session['id']}")
    # The row is confirmed when its transaction commits, a moment before the workflow ends.
    await eventually(handle.describe, lambda d: d.status == WorkflowExecutionStatus.COMPLETED)
    assert sample("billing_checkout_reconcile_total", outcome="confirmed") == reconciled_before + 1
    assert sample("billing_checkout_finalize_seconds_count") == finalized_before + 1
    before = await snapshot(system, workspace_id)
    assert [s["status"] for s in before["subscriptions"] if s["stripe_subscription_id"]] == [
        "active"
    ]

    # The webhooks arrive after all: processed once each, nothing changes.
    await system.control("webhooks/resume")
    event_ids = await system.settled()
    assert await snapshot(system, workspace_id) == before
    ledger = await system.rows(
        "SELECT id, status, attempts FROM stripe_webhook_events WHERE id = ANY(:ids)",
        ids=event_ids,
    )
    assert {(r["status"], r["attempts"]) for r in ledger} == {("completed", 1)}
    assert sample("billing_checkout_finalize_seconds_count") == finalized_before + 1
    assert (await poll()) == confirmed


async def status_app(settings: Settings, threshold: int) -> FastAPI:
    return create_app(settings.model_copy(update={"checkout_pending_reconcile_seconds": threshold}))


async def test_expired_session_and_the_threshold(system: System, settings: Settings) -> None:
    workspace_id, owner = await system.workspace()
    other_workspace, other_owner = await create_workspace(system.sessions)
    await system.control("webhooks/pause")
    session = await system.checkout(workspace_id, owner)
    path = f"/api/v1/stripe/workspaces/{workspace_id}/checkout-session/{session['id']}"

    # Below the threshold nobody asks Stripe, however often the page polls.
    patient = await status_app(settings, 3600)
    async with (
        patient.router.lifespan_context(patient),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=patient), base_url="http://api"
        ) as http,
    ):
        for _ in range(3):
            response = await http.get(path, headers=bearer(owner))
            assert response.json() == {"status": "pending", "subscription_id": None}
        requested = await system.rows(
            "SELECT reconcile_requested_at FROM checkout_sessions WHERE id = :id", id=session["id"]
        )
        assert requested == [{"reconcile_requested_at": None}]
        # A session of another workspace, or none at all: 404 for this workspace's members.
        foreign = await http.get(
            f"/api/v1/stripe/workspaces/{other_workspace}/checkout-session/{session['id']}",
            headers=bearer(other_owner),
        )
        assert foreign.status_code == 404
        assert foreign.json()["error"]["code"] == "CHECKOUT_SESSION_NOT_FOUND"

    # The buyer walked away and Stripe expired the session: the reconcile says so.
    async with httpx.AsyncClient(base_url=system.emulator_url) as stripe_http:
        expired = await stripe_http.post(
            f"/v1/checkout/sessions/{session['id']}/expire",
            headers={"Authorization": "Bearer sk_test_tracing"},
        )
        assert expired.status_code == 200, expired.text

    async def poll() -> dict[str, Any]:
        body: dict[str, Any] = (await system.status(workspace_id, owner, session["id"])).json()
        return body

    assert await eventually(poll, lambda b: b["status"] != "pending") == {
        "status": "expired",
        "subscription_id": None,
    }
    assert await system.plan(workspace_id) == "free"
