"""Poison isolation: no single event fails a replay run, a sweep batch or the object reconcile.

Temporal is made to refuse starts for real, never by mocking our code: a second dev server
whose `limit.maxIDLength` is 100 refuses `stripe-event:{id}` for an id the door accepts (128
characters of Stripe's alphabet), and the session's server refuses the 10,000-character id of
a row stored before the door checked ids (Temporal's own limit is 1,000).
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.deps import ActivityDeps
from api.main import create_app
from core.constants import HANDLED_EVENT_TYPES, SEARCH_ATTRIBUTES
from core.stripe_client import create_stripe_client
from core.temporal_client import DATA_CONVERTER
from ledger import dispatch as starts
from models.schedule_payloads import ReplayInput, ReplayResult
from ops.events import events_command
from tests.conftest import _venv_binary, make_settings
from tests.schedules.conftest import Store, plan_of, subscription_row
from tests.support import eventually, execute, price_id
from tests.support import fetch_all as rows
from tests.webhook.conftest import signed
from worker import build_worker
from workflows.replay import ReplayWorkflow

# Above any id of ours ("stripe-event:evt_" + 24, "replay-poison-" + a UUID), below the
# 141 characters of "stripe-event:" + a 128-character event id.
STRICT_ID_LENGTH = 100
LEGACY_ID = "evt_legacy_" + "x" * 9989  # 10,000 characters, stored before the door checked
MAX_ATTEMPTS = 2


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def strict_temporal() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_venv_binary("temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=DATA_CONVERTER,
        dev_server_log_level="error",
        dev_server_extra_args=[
            "--dynamic-config-value",
            f"limit.maxIDLength={STRICT_ID_LENGTH}",
        ],
    )
    yield env
    await env.shutdown()


async def ledger_rows(sessions: async_sessionmaker[AsyncSession], ids: list[str]) -> dict[str, Any]:
    found = await rows(
        sessions,
        "SELECT id, status, attempts, last_error, next_attempt_at FROM stripe_webhook_events "
        "WHERE id = ANY(:ids)",
        ids=ids,
    )
    return {r.id: r for r in found}


def dead_total(event_type: str) -> float:
    value = REGISTRY.get_sample_value("billing_webhook_dead_total", {"event_type": event_type})
    return value or 0.0


async def test_poison_events_never_fail_a_replay_run(
    strict_temporal: WorkflowEnvironment,
    database_url: str,
    emulator_server: Any,
    store: Store,
    task_queue: str,
) -> None:
    settings = make_settings(
        database_url,
        strict_temporal.client.service_client.config.target_host,
        task_queue,
        stripe_api_base=emulator_server.url,
        stripe_webhook_max_attempts=MAX_ATTEMPTS,
    )
    deps = ActivityDeps(
        settings=settings, sessions=store.sessions, stripe=create_stripe_client(settings)
    )
    app = create_app(settings)

    async def replay(params: ReplayInput | None = None) -> ReplayResult:
        return await strict_temporal.client.execute_workflow(
            ReplayWorkflow.run,
            params or ReplayInput(),
            id=f"replay-poison-{uuid.uuid4()}",
            task_queue=task_queue,
        )

    await store.control("webhooks/pause")  # no endpoint: every event is "missed"
    drifted = await store.account()
    drifted_sub = await store.purchase(drifted)
    worker = build_worker(strict_temporal.client, settings, deps)
    async with worker, app.router.lifespan_context(app):
        # Before the poison: the drifted account's events are in and all applied (a late
        # one would re-apply Stripe's state and undo the drift below by itself).
        await replay(ReplayInput(reconcile_objects=False))
        first = [e["id"] for e in await store.events(HANDLED_EVENT_TYPES)]
        await eventually(
            lambda: ledger_rows(store.sessions, first),
            lambda found: len(found) == len(first)
            and {r.status for r in found.values()} == {"completed"},
        )
        assert await plan_of(store.sessions, drifted.workspace_id) == "pro"
        # Stripe "fails to create an event": our row says business, Stripe says pro.
        await execute(
            store.sessions,
            "UPDATE subscriptions SET plan_slug = 'business', stripe_price_id = :p "
            "WHERE stripe_subscription_id = :s",
            p=price_id("business"),
            s=drifted_sub,
        )

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            # The poison: refused at the door now, nothing stored.
            giant: dict[str, Any] = {
                "id": LEGACY_ID,
                "object": "event",
                "type": "customer.subscription.updated",
                "created": int(time.time()),
                "data": {"object": {"id": drifted_sub, "object": "subscription"}},
            }
            body, headers = signed(giant)
            response = await http.post("/api/v1/stripe/webhook", content=body, headers=headers)
            assert (response.status_code, response.json()["error"]["code"]) == (
                400,
                "INVALID_PAYLOAD",
            )
            assert not await ledger_rows(store.sessions, [LEGACY_ID])
            # An id the door accepts but this Temporal refuses: kept, the refusal recorded on
            # its row (an attempt), and 200 — Stripe retrying it would change nothing.
            unstartable: dict[str, Any] = {**giant, "id": ("evt_" + uuid.uuid4().hex * 4)[:128]}
            body, headers = signed(unstartable)
            response = await http.post("/api/v1/stripe/webhook", content=body, headers=headers)
            assert response.json() == {"received": True, "duplicate": False}
        # The start runs beside the answer: its refusal lands on the row moments later.
        found = await eventually(
            lambda: ledger_rows(store.sessions, [unstartable["id"]]),
            lambda rows: rows[unstartable["id"]].status != "pending",
        )
        refused = found[unstartable["id"]]
        assert (refused.status, refused.attempts) == ("failed", 1)
        assert "INVALID_ARGUMENT" in refused.last_error

        # The 10,000-character row the old door stored, and the due retry of the other one.
        await execute(
            store.sessions,
            "INSERT INTO stripe_webhook_events (id, type, payload, status, attempts, source, "
            "received_at) VALUES (:id, :type, CAST(:payload AS jsonb), 'pending', 0, 'webhook', "
            "now() - interval '2 minutes')",
            id=LEGACY_ID,
            type=giant["type"],
            payload=json.dumps(giant),
        )
        await execute(
            store.sessions,
            "UPDATE stripe_webhook_events SET next_attempt_at = now() - interval '1 second' "
            "WHERE id = :id",
            id=unstartable["id"],
        )
        # Meanwhile a customer buys; the webhook never arrives.
        buyer = await store.account()
        bought = await store.purchase(buyer)
        missed = [
            e["id"]
            for e in await store.events(HANDLED_EVENT_TYPES)
            if buyer.customer_id in (e["data"]["object"].get("customer"), e["data"]["object"]["id"])
            or e["data"]["object"]["id"] == bought
        ]
        dead_before = dead_total(giant["type"])

        result = await replay()

        # The run completed, counted what it skipped and why, and healed everything else.
        assert result.skipped == {"start_refused": 2}
        assert sorted(result.skipped_ids) == sorted([unstartable["id"], LEGACY_ID[:200]])
        assert result.events_dead == 1  # the 128-character one: its second attempt
        assert result.events_inserted >= len(missed) >= 3
        assert result.mismatched_subscriptions == [drifted_sub]
        poison = await ledger_rows(store.sessions, [unstartable["id"], LEGACY_ID])
        assert (poison[unstartable["id"]].status, poison[unstartable["id"]].attempts) == (
            "dead",
            MAX_ATTEMPTS,
        )
        assert (poison[LEGACY_ID].status, poison[LEGACY_ID].attempts) == ("failed", 1)
        assert "INVALID_ARGUMENT" in poison[LEGACY_ID].last_error
        healed = await eventually(
            lambda: ledger_rows(store.sessions, missed),
            lambda found: {r.status for r in found.values()} == {"completed"},
        )
        assert len(healed) == len(missed)
        assert await plan_of(store.sessions, buyer.workspace_id) == "pro"
        assert (await subscription_row(store.sessions, drifted_sub)).plan_slug == "pro"

        # The next run, once the legacy row's backoff passed: it dies too; the dead one is
        # never started again.
        await execute(
            store.sessions,
            "UPDATE stripe_webhook_events SET next_attempt_at = now() - interval '1 second' "
            "WHERE id = :id",
            id=LEGACY_ID,
        )
        following = await replay(ReplayInput(reconcile_objects=False))
        assert (following.skipped, following.events_dead) == ({"start_refused": 1}, 1)
        poison = await ledger_rows(store.sessions, [unstartable["id"], LEGACY_ID])
        assert {r.status for r in poison.values()} == {"dead"}
        assert poison[unstartable["id"]].attempts == MAX_ATTEMPTS
        assert dead_total(giant["type"]) == dead_before + 2
        out = io.StringIO()
        await events_command(settings, out, statuses=["dead"])
        assert unstartable["id"][:31] in out.getvalue() and LEGACY_ID[:31] in out.getvalue()


async def test_one_refused_start_does_not_stop_the_others_of_a_batch(
    temporal_env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    ok_ids = [f"evt_batch_{uuid.uuid4().hex[:12]}" for _ in range(3)]
    poison = "evt_poison_" + "p" * 5000  # over Temporal's 1,000-character id limit
    for event_id in [*ok_ids, poison]:
        await execute(
            store.sessions,
            "INSERT INTO stripe_webhook_events (id, type, payload, status, attempts, source) "
            "VALUES (:id, 'invoice.paid', '{}'::jsonb, 'pending', 0, 'webhook')",
            id=event_id,
        )
    batch = [(i, "invoice.paid", "pending") for i in [ok_ids[0], poison, *ok_ids[1:]]]

    result = await starts.dispatch_events(
        temporal_env.client, store.sessions, task_queue, batch, max_attempts=3
    )

    assert (result.dispatched, result.start_refused, result.start_unavailable) == (3, 1, 0)
    assert result.skipped_ids == [poison]
    for event_id in ok_ids:  # started: no worker polls this queue, so they stay running
        handle = temporal_env.client.get_workflow_handle(f"stripe-event:{event_id}")
        await handle.terminate()
    recorded = (await ledger_rows(store.sessions, [poison]))[poison]
    assert (recorded.status, recorded.attempts) == ("failed", 1)
    assert recorded.next_attempt_at is not None and "INVALID_ARGUMENT" in recorded.last_error

    # Temporal down: the start is lost, not the event's fault — noted, no attempt counted.
    unreachable = await Client.connect("127.0.0.1:9", lazy=True, data_converter=DATA_CONVERTER)
    lost = [(ok_ids[0], "invoice.paid", "pending")]
    outage = await starts.dispatch_events(
        unreachable, store.sessions, task_queue, lost, max_attempts=3
    )
    assert (outage.dispatched, outage.start_unavailable) == (0, 1)
    noted = (await ledger_rows(store.sessions, [ok_ids[0]]))[ok_ids[0]]
    assert (noted.status, noted.attempts) == ("pending", 0) and noted.last_error
