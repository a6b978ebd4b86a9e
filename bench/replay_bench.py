"""Replay benchmark: reconcile a backlog of missed Stripe events, next to a bare workflow rate.

Self-contained: its own in-memory Temporal dev server, a fresh database, the Stripe emulator
with no webhook endpoint (every event is "missed") and a worker built as `billing worker`
builds it. Run: `.venv/bin/python -m bench.replay_bench [--events 5000] [--subscriptions 10]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
import warnings
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.worker import Worker

from activities.deps import ActivityDeps
from bench.baseline_workflow import TwoActivityWorkflow, noop
from bench.support import SECRET, bench_settings, database, quiet_sdk_core, temporal_dev_server
from bench.table import Row, number, ratio
from core.constants import HANDLED_EVENT_TYPES
from core.db import create_db_engine, session_factory
from core.stripe_client import create_stripe_client
from models.schedule_payloads import ReplayInput, ReplayResult
from stripe_emulator import lifecycle
from stripe_emulator.core import Emulator
from stripe_emulator.seed import catalog_ids, lookup_key
from stripe_emulator.testing import EmulatorServer
from worker import build_worker, workflow_runner
from workflows.replay import ReplayWorkflow

log = logging.getLogger("replay_bench")
# The dev server's poller limit: never await more than this many results at once.
MAX_IN_FLIGHT = 1000


async def seed_accounts(
    emulator: EmulatorServer, sessions: async_sessionmaker[AsyncSession], count: int
) -> list[str]:
    """`count` workspaces that bought pro monthly; returns their subscription ids."""
    stripe = create_stripe_client(bench_settings("postgresql://unused", "unused:1", emulator.url))
    price = catalog_ids("bench")[lookup_key("bench", "pro", "monthly")]
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO plan_variants (plan_slug, interval, currency, stripe_price_id, "
                "grants) VALUES ('pro', 'monthly', 'usd', :p, '{}'::jsonb)"
            ),
            {"p": price},
        )
    subscriptions = []
    for _ in range(count):
        workspace_id = uuid.uuid4()
        customer = await stripe.v1.customers.create_async({"email": "bench@example.com"})
        async with sessions() as session, session.begin():
            await session.execute(
                text("INSERT INTO workspaces (id, name) VALUES (:w, 'bench')"), {"w": workspace_id}
            )
            await session.execute(
                text(
                    "INSERT INTO workspace_billing_customers (workspace_id, stripe_customer_id) "
                    "VALUES (:w, :c)"
                ),
                {"w": workspace_id, "c": customer.id},
            )
        checkout = await stripe.v1.checkout.sessions.create_async(
            {
                "mode": "subscription",
                "customer": customer.id,
                "client_reference_id": str(workspace_id),
                "line_items": [{"price": price, "quantity": 1}],
                "success_url": "http://app.test/ok",
                "cancel_url": "http://app.test/cancel",
            }
        )
        done = await emulator.control(
            "POST", f"/_emulator/checkout/sessions/{checkout.id}/complete", {"outcome": "paid"}
        )
        subscriptions.append(str(done["subscription"]))
    return subscriptions


def handled_count(emu: Emulator) -> int:
    return sum(1 for e in emu.store.tables["events"].values() if e["type"] in HANDLED_EVENT_TYPES)


async def make_backlog(emulator: EmulatorServer, subscriptions: list[str], target: int) -> int:
    """Renewals (each: customer.subscription.updated + invoice.paid) until `target` events."""

    def renew_round(emu: Emulator) -> int:
        for sub_id in subscriptions:
            if handled_count(emu) >= target:
                break
            lifecycle.invoice_cycle(emu, emu.store.tables["subscriptions"][sub_id], True)
        return handled_count(emu)

    total = await emulator.call(handled_count)
    while total < target:
        total = await emulator.call(renew_round)
    return total


async def completed(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT count(*) FILTER (WHERE status = 'completed') AS done, "
                    "count(*) FILTER (WHERE attempts > 1) AS retried FROM stripe_webhook_events"
                )
            )
        ).one()
    return int(row.done), int(row.retried)


async def reconcile_seconds(handle: Any) -> float:
    """Workflow start → Events API reconcile activity completed (everything stored+started)."""
    history = await handle.fetch_history()
    begin = history.events[0].event_time.ToDatetime()
    for event in history.events:
        if event.HasField("activity_task_completed_event_attributes"):
            end = event.event_time.ToDatetime()
            return float((end - begin).total_seconds())
    raise RuntimeError("the reconcile activity did not complete")


async def baseline_rate(client: Client, total: int) -> float:
    """Completed bare two-activity workflows per second on the same server."""
    queue = "bench-baseline"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[TwoActivityWorkflow],
        activities=[noop],
        workflow_runner=workflow_runner(),
    ):
        started = time.perf_counter()
        for first in range(0, total, MAX_IN_FLIGHT):
            handles = [
                await client.start_workflow(
                    TwoActivityWorkflow.run, i, id=f"baseline-{uuid.uuid4()}", task_queue=queue
                )
                for i in range(first, min(total, first + MAX_IN_FLIGHT))
            ]
            await asyncio.gather(*(h.result() for h in handles))
        return total / (time.perf_counter() - started)


async def run(events: int, subscription_count: int, baseline: int) -> dict[str, Any]:
    async with (
        database() as database_url,
        EmulatorServer(webhook_secret=SECRET, seed_catalog="bench") as emulator,
        await temporal_dev_server() as env,
    ):
        settings = bench_settings(
            database_url, env.client.service_client.config.target_host, emulator.url
        )
        engine = create_db_engine(database_url, pool_size=20)
        sessions = session_factory(engine)
        try:
            log.info(
                "seeding %d subscriptions and a backlog of %d events", subscription_count, events
            )
            subscriptions = await seed_accounts(emulator, sessions, subscription_count)
            backlog = await make_backlog(emulator, subscriptions, events)
            deps = ActivityDeps(
                settings=settings, sessions=sessions, stripe=create_stripe_client(settings)
            )
            async with build_worker(env.client, settings, deps):
                started = time.perf_counter()
                handle = await env.client.start_workflow(
                    ReplayWorkflow.run,
                    ReplayInput(),
                    id=f"replay-bench-{uuid.uuid4()}",
                    task_queue=settings.temporal_task_queue,
                )
                while (await completed(sessions))[0] < backlog:
                    await asyncio.sleep(0.2)
                elapsed = time.perf_counter() - started
                result: ReplayResult = await handle.result()
                reconciled = await reconcile_seconds(handle)
                _, retried = await completed(sessions)
            log.info("measuring the bare two-activity workflow rate (%d workflows)", baseline)
            bare = await baseline_rate(env.client, baseline)
        finally:
            await engine.dispose()
    rate = result.events_inserted / elapsed
    return {
        "server": "temporal dev server, in memory",
        "backlog_events": backlog,
        "events_inserted": result.events_inserted,
        "store_and_start_seconds": round(reconciled, 2),  # listed, stored, started
        "store_and_start_events_per_s": round(result.events_inserted / reconciled, 1),
        "end_to_end_seconds": round(elapsed, 2),
        "end_to_end_events_per_s": round(rate, 1),
        "events_processed_more_than_once": retried,
        "bare_two_activity_workflows_per_s": round(bare, 1),
        "ratio_events_to_bare": round(rate / bare, 2),
    }


def rows(result: dict[str, Any]) -> list[Row]:
    """The replay rows of the `billing bench` table."""
    events, bare = result["events_inserted"], result["bare_two_activity_workflows_per_s"]
    return [
        Row("replay backlog, listed + stored + started",
            f"{number(result['store_and_start_events_per_s'])} events/s "
            f"({events} events in {number(result['store_and_start_seconds'])} s)"),
        Row("replay backlog, end to end",
            f"{number(result['end_to_end_events_per_s'])} events/s "
            f"({events} events in {number(result['end_to_end_seconds'])} s; "
            f"{result['events_processed_more_than_once']} with attempts > 1)",
            f"bare two-activity workflow {number(bare)}/s",
            ratio(result["end_to_end_events_per_s"], bare, "rate")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--baseline", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("temporalio", "stripe", "httpx", "billing", "activities"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    quiet_sdk_core()
    figures = asyncio.run(run(args.events, args.subscriptions, args.baseline))
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
