"""Intake at the speed of the ledger: 200 once stored, and every stored event started within
seconds by the worker's dispatcher when the API could not start it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from core.constants import event_workflow_id
from core.db import libpq_url
from ledger.dispatcher import Dispatcher
from tests.support import eventually, fetch_all
from tests.webhook.conftest import Shop, signed

WEBHOOK = "/api/v1/stripe/webhook"


def dispatcher(settings: Settings, shop: Shop, temporal_env: WorkflowEnvironment) -> Dispatcher:
    return Dispatcher(
        libpq_url(settings.database_url),
        shop.sessions,
        temporal_env.client,
        settings.temporal_task_queue,
        settings.stripe_webhook_max_attempts,
    )


async def test_webhooks_are_acknowledged_while_temporal_is_away_and_started_when_it_answers(
    shop: Shop, settings: Settings, temporal_env: WorkflowEnvironment, billing_worker: Any
) -> None:
    buyer = await shop.buyer()
    await shop.control("webhooks/pause")
    await shop.checkout(buyer, "pro", "monthly")
    events = [e for e in await shop.events() if e["data"]["object"].get("customer")]
    assert events

    # The API cannot reach Temporal (as during an outage): every delivery is still a 200.
    away = settings.model_copy(update={"temporal_address": "127.0.0.1:9"})
    app = create_app(away)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            for event in events:
                body, headers = signed(event)
                response = await client.post(WEBHOOK, content=body, headers=headers)
                assert response.status_code == 200, response.text
    ids = [e["id"] for e in events]
    rows = await fetch_all(
        shop.sessions, "SELECT id, status FROM stripe_webhook_events WHERE id = ANY(:ids)", ids=ids
    )
    handled = [r.id for r in rows if r.status == "pending"]
    assert handled, rows

    # Temporal answers again (the worker's dispatcher reaches it): started within seconds.
    stop = asyncio.Event()
    started = time.monotonic()
    running = asyncio.create_task(dispatcher(settings, shop, temporal_env).run(stop))
    try:
        final = await eventually(
            lambda: fetch_all(
                shop.sessions,
                "SELECT id, status, attempts FROM stripe_webhook_events WHERE id = ANY(:ids)",
                ids=handled,
            ),
            lambda found: all(r.status == "completed" for r in found),
            timeout=30,
        )
    finally:
        stop.set()
        await running
    took = time.monotonic() - started
    # Started once whoever started it: one claim each, one completed run per workflow id.
    assert all(r.attempts == 1 for r in final), final
    for event_id in handled:
        handle = temporal_env.client.get_workflow_handle(event_workflow_id(event_id))
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    # Measured about 1–2 s here (grace 1 s + a sweep); the limit is a generous safety net.
    assert took < 25, took


async def test_one_dispatcher_leads_and_another_takes_over(
    shop: Shop, settings: Settings, temporal_env: WorkflowEnvironment
) -> None:
    first, second = (dispatcher(settings, shop, temporal_env) for _ in range(2))
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    leading = asyncio.create_task(first.run(stop_first))
    await asyncio.sleep(0.5)
    waiting = asyncio.create_task(second.run(stop_second))

    async def leaders() -> list[Any]:
        return await fetch_all(
            shop.sessions,
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND objid = hashtext('billing-ledger-dispatcher')::oid",
        )

    await eventually(leaders, lambda rows: rows[0].n == 1)
    stop_first.set()
    await leading
    # The first one's session ended with its lock: the second leads within its idle period.
    await eventually(leaders, lambda rows: rows[0].n == 1, timeout=15)
    stop_second.set()
    await waiting
