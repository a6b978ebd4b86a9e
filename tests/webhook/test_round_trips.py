"""What applying an event costs PostgreSQL, counted on the wire (`bench.wire`): the apply path
keeps to its budget of round trips, whatever changes inside it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from temporalio.testing import WorkflowEnvironment

from bench.wire import counting_proxy
from core.config import Settings
from core.constants import event_workflow_id
from core.db import create_db_engine
from ledger import events as ledger
from models.event_payloads import StripeEventInput
from tests.support import price_id
from tests.webhook.conftest import Shop, workspace_state
from worker import build_worker, worker_deps

# Measured: 14 for a plan change (the claim 1; BEGIN 1; the workspace found and locked 1;
# the Stripe budget's lease 1; 9 statements of the apply; the tail writes with COMMIT 1).
# Before the apply path was trimmed it cost 27.
BUDGET = 15


async def test_a_plan_change_is_applied_within_its_round_trip_budget(
    shop: Shop,
    live_api: str,
    billing_worker: Any,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
) -> None:
    buyer = await shop.buyer()
    _, subscription_id = await shop.checkout(buyer, "pro", "monthly")
    await shop.settled(buyer.workspace_id)
    seen = {e["id"] for e in await shop.events()}
    # Held back from the live API: these go through the counted worker only.
    await shop.control("webhooks/pause")
    try:
        for plan in ("business", "pro", "business"):
            await shop.update(subscription_id, price=price_id(plan))
        changes = [
            e for e in await shop.events()
            if e["id"] not in seen and e["type"] == "customer.subscription.updated"
        ]
        assert len(changes) == 3
        engine = create_db_engine(settings.database_url, pool_size=1)
        try:
            for event in changes:
                body = json.dumps(event).encode()
                await ledger.store_delivery(engine, event, body, ignored_reason=None)
        finally:
            await engine.dispose()

        queue = f"counted-{uuid.uuid4()}"
        counts = []
        async with counting_proxy(settings.database_url) as (url, wire):
            counted = settings.model_copy(
                update={"database_url": url, "temporal_task_queue": queue}
            )
            async with (
                worker_deps(counted) as deps,
                build_worker(temporal_env.client, counted, deps),
            ):
                for event in changes:
                    before = wire.count
                    await temporal_env.client.execute_workflow(
                        "StripeEventWorkflow",
                        StripeEventInput(event_id=event["id"], event_type=event["type"]),
                        id=event_workflow_id(event["id"]),
                        task_queue=queue,
                    )
                    counts.append(wire.count - before)
    finally:
        await shop.control("webhooks/resume")
    # The first change also opens the pools' connections; the others are the steady cost.
    assert max(counts[1:]) <= BUDGET, counts
    state = await workspace_state(shop.sessions, buyer.workspace_id)
    assert state["plan"] == "business"
