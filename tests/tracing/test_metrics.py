"""Each operational signal moves when its situation is provoked: duplicate and failed webhooks,
checkout and event latencies, reconcile mismatches, scheduled-run outcomes — and the worker
serves its own metrics and the Temporal SDK's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import text
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from models.reconcile_payloads import CheckoutReconcileInput
from models.schedule_payloads import ReplayInput
from ops.processes import free_port
from stripe_emulator.seed import catalog_ids, lookup_key
from stripe_emulator.webhooks import sign
from tests.conftest import WEBHOOK_SECRET
from tests.schedules.conftest import delete_schedules, forget_other_tests
from tests.support import eventually
from tests.tracing.conftest import System, sample
from worker import run_worker
from workflows.checkout_reconcile import CheckoutReconcileWorkflow
from workflows.replay import ReplayWorkflow

WEBHOOK = "/api/v1/stripe/webhook"


async def deliver(system: System, event: dict[str, Any]) -> httpx.Response:
    body = json.dumps(event)
    headers = {"Stripe-Signature": sign(body, WEBHOOK_SECRET), "Content-Type": "application/json"}
    return await system.http.post(WEBHOOK, content=body, headers=headers)


async def emulator_event(system: System, event_type: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=system.emulator_url) as http:
        page = (
            await http.get(
                "/v1/events",
                params={"type": event_type, "limit": 1},
                headers={"Authorization": "Bearer sk_test_tracing"},
            )
        ).json()
    event: dict[str, Any] = page["data"][0]
    return event


async def test_webhook_latency_duplicate_and_failure_signals(system: System) -> None:
    completed = "checkout.session.completed"
    finalized = sample("billing_checkout_finalize_seconds_count")
    to_plan = sample("billing_event_to_plan_seconds_count", event_type=completed)
    workspace_id, owner = await system.workspace()
    session = await system.checkout(workspace_id, owner)
    await system.complete(session["id"])
    await system.settled()
    assert await system.plan(workspace_id) == "pro"
    assert sample("billing_checkout_finalize_seconds_count") == finalized + 1
    assert sample("billing_event_to_plan_seconds_count", event_type=completed) == to_plan + 1

    # Stripe delivers the same event again: counted as a duplicate, not processed again.
    event = await emulator_event(system, completed)
    received = sample("billing_webhook_received_total", event_type=completed)
    duplicate = sample("billing_webhook_duplicate_total", event_type=completed)
    response = await deliver(system, event)
    assert response.json() == {"received": True, "duplicate": True}
    assert sample("billing_webhook_received_total", event_type=completed) == received + 1
    assert sample("billing_webhook_duplicate_total", event_type=completed) == duplicate + 1
    assert sample("billing_event_to_plan_seconds_count", event_type=completed) == to_plan + 1

    # An event about a subscription Stripe never had: given up, counted as failed.
    updated = "customer.subscription.updated"
    failed = sample("billing_webhook_failed_total", event_type=updated)
    bogus = {
        "id": f"evt_tracing_{uuid.uuid4().hex[:12]}",
        "object": "event",
        "type": updated,
        "created": int(time.time()),
        "data": {"object": {"id": f"sub_unknown_{uuid.uuid4().hex[:8]}", "object": "subscription"}},
    }
    assert (await deliver(system, bogus)).status_code == 200
    row = await eventually(
        lambda: system.rows(
            "SELECT status, last_error FROM stripe_webhook_events WHERE id = :id", id=bogus["id"]
        ),
        lambda rows: bool(rows) and rows[0]["status"] == "failed",
    )
    assert row[0]["last_error"]
    assert sample("billing_webhook_failed_total", event_type=updated) == failed + 1


async def schedule_once(
    env: WorkflowEnvironment, schedule_id: str, action: ScheduleActionStartWorkflow
) -> None:
    await env.client.create_schedule(
        schedule_id,
        Schedule(action=action, spec=ScheduleSpec(), state=ScheduleState(paused=True)),
        trigger_immediately=True,
    )


def runs(schedule: str, workflow: str, outcome: str) -> float:
    return sample(
        "billing_schedule_runs_total", schedule=schedule, workflow=workflow, outcome=outcome
    )


async def test_mismatch_and_scheduled_run_outcomes(
    system: System, temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    await forget_other_tests(system.sessions)
    workspace_id, owner = await system.workspace()
    session = await system.checkout(workspace_id, owner)
    subscription_id = await system.complete(session["id"])
    await system.settled()
    # Stripe "fails to create an event": our row says business; Stripe still says pro.
    business = catalog_ids("test")[lookup_key("test", "business", "monthly")]
    async with system.sessions() as db, db.begin():
        await db.execute(
            text(
                "UPDATE subscriptions SET plan_slug = 'business', stripe_price_id = :p "
                "WHERE stripe_subscription_id = :s"
            ),
            {"p": business, "s": subscription_id},
        )
    mismatches = sample("billing_reconcile_mismatches_total", field="price")
    suffix = uuid.uuid4().hex[:6]
    replay, broken = f"tracing-replay-{suffix}", f"tracing-broken-{suffix}"
    expected = (
        runs(replay, "ReplayWorkflow", "completed") + 1,
        runs(broken, "CheckoutReconcileWorkflow", "failed") + 1,
    )
    queue = settings.temporal_task_queue
    try:
        await schedule_once(
            temporal_env,
            replay,
            ScheduleActionStartWorkflow(
                ReplayWorkflow.run,
                ReplayInput(reconcile_events=False),
                id=replay,
                task_queue=queue,
            ),
        )
        # A reconcile of a session Stripe never had fails (resource_missing, not retried).
        await schedule_once(
            temporal_env,
            broken,
            ScheduleActionStartWorkflow(
                CheckoutReconcileWorkflow.run,
                CheckoutReconcileInput(
                    workspace_id=str(workspace_id), checkout_session_id="cs_nope"
                ),
                id=broken,
                task_queue=queue,
            ),
        )

        async def counted() -> tuple[float, float]:
            return (
                runs(replay, "ReplayWorkflow", "completed"),
                runs(broken, "CheckoutReconcileWorkflow", "failed"),
            )

        assert await eventually(counted, lambda found: found == expected, 30) == expected
    finally:
        for schedule_id in (replay, broken):
            with contextlib.suppress(RPCError):  # absent is the goal
                await temporal_env.client.get_schedule_handle(schedule_id).delete()
    assert sample("billing_reconcile_mismatches_total", field="price") == mismatches + 1
    rows = await system.rows(
        "SELECT plan_slug FROM subscriptions WHERE stripe_subscription_id = :s", s=subscription_id
    )
    assert rows == [{"plan_slug": "pro"}]


async def test_worker_serves_its_metrics_and_the_sdks(
    settings: Settings, temporal_env: WorkflowEnvironment
) -> None:
    ours, sdk = free_port(), free_port()
    configured = settings.model_copy(
        update={"worker_metrics_port": ours, "temporal_sdk_metrics_address": f"127.0.0.1:{sdk}"}
    )
    stop = asyncio.Event()
    serving = asyncio.create_task(run_worker(configured, stop))

    async def scrape(port: int) -> str:
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                response = await http.get(f"http://127.0.0.1:{port}/metrics")
                return response.text if response.status_code == 200 else ""
        except httpx.TransportError:
            return ""

    try:
        assert "billing_schedule_runs" in await eventually(lambda: scrape(ours), bool)
        assert "billing_webhook_processed" in await scrape(ours)
        sdk_text = await eventually(lambda: scrape(sdk), lambda t: "temporal_" in t)
        assert "temporal_worker_task_slots_available" in sdk_text or "temporal_request" in sdk_text
    finally:
        stop.set()
        await serving
        await delete_schedules(temporal_env.client, configured)
    assert await scrape(ours) == ""  # the endpoint stops with the worker
