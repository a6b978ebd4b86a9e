"""Final states for every event: an event that keeps failing ends `dead`, stays until an operator
acts, is seen by support and operators, and an operator's retry re-runs it."""

from __future__ import annotations

import io
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.main import create_app
from core.config import Settings
from core.constants import event_workflow_id
from models.event_payloads import StripeEventInput
from models.schedule_payloads import CleanupInput, ReplayInput
from ops.events import events_command, retry_command
from ops.trace import trace_command
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.support import eventually, execute, fetch_all
from tests.webhook.conftest import Shop, signed, workspace_state
from workflows.cleanup import CleanupWorkflow
from workflows.replay import ReplayWorkflow
from workflows.stripe_event import StripeEventWorkflow

WEBHOOK = "/api/v1/stripe/webhook"
EVENTS = "/api/v1/stripe/events"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
MAX_ATTEMPTS = 2


@pytest.fixture
def settings(
    database_url: str, temporal_env: WorkflowEnvironment, task_queue: str, emulator_server: Any
) -> Settings:
    return make_settings(
        database_url,
        temporal_env.client.service_client.config.target_host,
        task_queue,
        stripe_api_base=emulator_server.url,
        stripe_webhook_max_attempts=MAX_ATTEMPTS,
    )


async def settle_other_tests(shop: Shop) -> None:
    """The DB is shared by the session: unfinished rows of earlier tests would be swept or
    listed here too."""
    await execute(
        shop.sessions,
        "UPDATE stripe_webhook_events SET status = 'ignored', processed_at = now() "
        "WHERE status IN ('pending', 'processing', 'failed', 'dead')",
    )


async def row(shop: Shop, event_id: str) -> Any:
    found = await fetch_all(
        shop.sessions,
        "SELECT status, attempts, last_error, next_attempt_at FROM stripe_webhook_events "
        "WHERE id = :id",
        id=event_id,
    )
    return found[0]


def dead_count(event_type: str) -> float:
    value = REGISTRY.get_sample_value("billing_webhook_dead_total", {"event_type": event_type})
    return value or 0.0


async def sweep(env: WorkflowEnvironment, settings: Settings) -> Any:
    return await env.client.execute_workflow(
        ReplayWorkflow.run,
        ReplayInput(reconcile_events=False, reconcile_objects=False),
        id=f"replay-dead-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
    )


async def test_an_event_that_keeps_failing_ends_dead_and_waits_for_an_operator(
    shop: Shop,
    client: httpx.AsyncClient,
    billing_worker: Worker,
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    await settle_other_tests(shop)
    buyer = await shop.buyer()
    event_type = "customer.subscription.updated"
    # Names a subscription Stripe never had: every attempt fails (404, not retryable).
    doomed: dict[str, Any] = {
        "id": f"evt_doomed_{uuid.uuid4().hex[:12]}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {
            "object": {
                "id": f"sub_gone_{uuid.uuid4().hex[:8]}",
                "object": "subscription",
                "metadata": {"workspace_id": str(buyer.workspace_id)},
            }
        },
    }
    dead_before = dead_count(event_type)
    response = await client.post(WEBHOOK, content=signed(doomed)[0], headers=signed(doomed)[1])
    assert response.status_code == 200
    first = await eventually(lambda: row(shop, doomed["id"]), lambda r: r.status == "failed")
    assert first.attempts == 1 and first.next_attempt_at is not None

    # The backoff passes; the sweep runs it again, and the second failure is the last.
    await execute(
        shop.sessions,
        "UPDATE stripe_webhook_events SET next_attempt_at = now() - interval '1 second' "
        "WHERE id = :id",
        id=doomed["id"],
    )
    assert (await sweep(temporal_env, settings)).events_dispatched == 1
    dead = await eventually(lambda: row(shop, doomed["id"]), lambda r: r.status == "dead")
    assert dead.attempts == MAX_ATTEMPTS and dead.next_attempt_at is None
    assert "StripeInvalidRequestError" in dead.last_error
    assert dead_count(event_type) == dead_before + 1

    # Never swept again, never cleaned, however old.
    await execute(
        shop.sessions,
        "UPDATE stripe_webhook_events SET received_at = now() - interval '90 days', "
        "next_attempt_at = NULL WHERE id = :id",
        id=doomed["id"],
    )
    assert (await sweep(temporal_env, settings)).events_dispatched == 0
    await temporal_env.client.execute_workflow(
        CleanupWorkflow.run,
        CleanupInput(retention_days=1),
        id=f"cleanup-dead-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
    )
    assert (await row(shop, doomed["id"])).attempts == MAX_ATTEMPTS

    # Support sees it in the trace; operators in `billing events` and the admin route.
    trace = await trace_command(settings, buyer.workspace_id, as_json=False)
    assert f"{doomed['id']}: DEAD" in trace and f"attempts {MAX_ATTEMPTS}" in trace
    out = io.StringIO()
    await events_command(settings, out, statuses=["dead"], workspace_id=buyer.workspace_id)
    [line] = [line for line in out.getvalue().splitlines() if doomed["id"] in line]
    assert line.split()[1:4] == [event_type, "dead", str(MAX_ATTEMPTS)]
    assert "StripeInvalidRequestError" in line
    listed = await client.get(EVENTS, params={"status": "dead"}, headers=ADMIN)
    [public] = [e for e in listed.json()["events"] if e["id"] == doomed["id"]]
    assert (public["status"], public["attempts"]) == ("dead", MAX_ATTEMPTS)
    assert public["age_seconds"] > 89 * 86400

    # An operator's retry runs it once more; failing again, it is dead again at once.
    retried = await client.post(f"{EVENTS}/{doomed['id']}/retry", headers=ADMIN)
    assert retried.status_code == 200, retried.text
    assert retried.json()["outcome"] == "started"
    again = await eventually(
        lambda: row(shop, doomed["id"]),
        lambda r: r.status == "dead" and r.attempts == MAX_ATTEMPTS + 1,
    )
    assert again.next_attempt_at is None


async def test_retry_reruns_a_completed_workflow_whose_row_is_dead(
    shop: Shop,
    billing_worker: Worker,
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    await settle_other_tests(shop)
    buyer = await shop.buyer()
    await shop.control("webhooks/pause")
    _, subscription_id = await shop.checkout(buyer, "pro", "monthly")
    [created] = [e for e in await shop.events() if e["type"] == "customer.subscription.created"]
    # Its workflow ran and completed (skipping a row that said completed) ...
    await execute(
        shop.sessions,
        "INSERT INTO stripe_webhook_events (id, type, payload, status, attempts, source) "
        "VALUES (:id, :type, CAST(:payload AS jsonb), 'completed', 1, 'webhook')",
        id=created["id"],
        type=created["type"],
        payload=json.dumps(created),
    )
    earlier = await temporal_env.client.execute_workflow(
        StripeEventWorkflow.run,
        StripeEventInput(event_id=created["id"], event_type=created["type"]),
        id=event_workflow_id(created["id"]),
        task_queue=settings.temporal_task_queue,
    )
    assert earlier.outcome == "skipped"
    # ... yet the row says it died (say, Stripe was down for hours): nothing was applied.
    await execute(
        shop.sessions,
        "UPDATE stripe_webhook_events SET status = 'dead', attempts = 8, "
        "last_error = 'StripeUnavailable: boom' WHERE id = :id",
        id=created["id"],
    )
    assert (await workspace_state(shop.sessions, buyer.workspace_id))["plan"] == "free"

    out = io.StringIO()
    assert await retry_command(settings, out, [], all_dead=True) == 0
    assert f"{created['id']}: started" in out.getvalue()
    done = await eventually(lambda: row(shop, created["id"]), lambda r: r.status == "completed")
    assert done.attempts == 9 and done.last_error is None
    state = await workspace_state(shop.sessions, buyer.workspace_id)
    assert state["plan"] == "pro"
    assert [r["stripe_subscription_id"] for r in state["rows"] if r["status"] == "active"] == [
        subscription_id
    ]


async def test_event_routes_answer_operators_only(
    shop: Shop, client: httpx.AsyncClient, settings: Settings
) -> None:
    await settle_other_tests(shop)
    done_id, failed_id = (f"evt_routes_{uuid.uuid4().hex[:12]}" for _ in range(2))
    other = uuid.uuid4()
    for event_id, status, workspace in ((done_id, "completed", None), (failed_id, "failed", other)):
        await execute(
            shop.sessions,
            "INSERT INTO stripe_webhook_events (id, type, payload, status, attempts, source, "
            "last_error, workspace_id) VALUES (:id, 'invoice.paid', '{}'::jsonb, :status, 1, "
            "'webhook', 'boom', :w)",
            id=event_id,
            status=status,
            w=workspace,
        )

    wrong = {"Authorization": "Bearer not-the-admin-token"}
    assert (await client.get(EVENTS, headers=wrong)).status_code == 401
    assert (await client.post(f"{EVENTS}/{failed_id}/retry", headers=wrong)).status_code == 401
    assert (await client.get(EVENTS)).status_code == 401

    listed = (await client.get(EVENTS, headers=ADMIN)).json()
    assert [e["id"] for e in listed["events"]] == [failed_id]  # completed rows are not listed
    assert listed["events"][0]["last_error"] == "boom"
    mine = await client.get(EVENTS, params={"workspace_id": str(other)}, headers=ADMIN)
    assert [e["id"] for e in mine.json()["events"]] == [failed_id]
    nobody = await client.get(EVENTS, params={"workspace_id": str(uuid.uuid4())}, headers=ADMIN)
    assert nobody.json()["events"] == []
    bad = await client.get(EVENTS, params={"status": "completed"}, headers=ADMIN)
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "VALIDATION_ERROR")
    # Found by the API fuzzer: a NUL in the type filter reached PostgreSQL, a 500.
    nul = await client.get(EVENTS, params={"type": "invoice.paid\x00"}, headers=ADMIN)
    assert (nul.status_code, nul.json()["error"]["code"]) == (422, "VALIDATION_ERROR")
    nul_id = await client.post(f"{EVENTS}/evt_%00/retry", headers=ADMIN)  # api/path_guard.py
    assert (nul_id.status_code, nul_id.json()["error"]["code"]) == (404, "NOT_FOUND")

    unknown = await client.post(f"{EVENTS}/evt_never_seen/retry", headers=ADMIN)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "EVENT_NOT_FOUND")
    final = await client.post(f"{EVENTS}/{done_id}/retry", headers=ADMIN)
    assert (final.status_code, final.json()["error"]["code"]) == (409, "CONFLICT")

    # Without a configured admin token the routes do not exist.
    closed = create_app(settings.model_copy(update={"stripe_internal_admin_token": None}))
    async with closed.router.lifespan_context(closed):
        transport = httpx.ASGITransport(app=closed)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            for response in (
                await http.get(EVENTS, headers=ADMIN),
                await http.post(f"{EVENTS}/{failed_id}/retry", headers=ADMIN),
            ):
                assert (response.status_code, response.json()["error"]["code"]) == (
                    404,
                    "NOT_FOUND",
                )
