"""What one applied event costs: SQL round trips on the wire and the worker's CPU.

Events come from real lifecycles in the emulator: paid checkouts (`checkout.session.
completed`, `customer.subscription.created`, `invoice.paid`) and upgrades (`customer.
subscription.updated`), stored in the ledger as the webhook route stores them.

- **Round trips**: each event runs alone through `StripeEventWorkflow` on a worker built as
  `billing worker` builds it (`worker.worker_deps`), its database and the shared Stripe
  bucket reached through a proxy that counts the server's `ReadyForQuery` messages. Per event
  type: the median and the maximum.
- **CPU per event**: a queue of started events drained by the same worker in this process;
  the process's CPU time (user + system) over the drain divided by the events, next to the
  same figure for the bare two-local-activity workflow drained the same way.

Run: `.venv/bin/python -m bench.apply_bench [--workspaces 60]` (about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from temporalio.client import Client
from temporalio.worker import Worker

from bench.support import (
    bench_settings,
    database,
    emulator_process,
    temporal_dev_server,
)
from bench.table import Row, number, rate, ratio
from bench.webhook_baseline import TwoLocalActivitiesWorkflow, noop
from bench.webhook_events import Catalog
from bench.wire import counting_proxy
from core.config import Settings
from core.constants import event_workflow_id
from core.db import create_db_engine
from ledger import events as ledger
from models.event_payloads import StripeEventInput
from rules.events import HANDLERS
from worker import build_worker, worker_deps, workflow_runner

log = logging.getLogger("apply_bench")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def store(database_url: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The handled events, stored `pending` as the webhook route stores them."""
    handled = [e for e in events if e["type"] in HANDLERS]
    engine = create_db_engine(database_url, pool_size=2)
    try:
        for event in handled:
            body = json.dumps(event).encode()
            await ledger.store_delivery(engine, event, body, ignored_reason=None)
    finally:
        await engine.dispose()
    return handled


async def lifecycle_events(
    catalog: Catalog, workspaces: int, seen: set[str]
) -> list[dict[str, Any]]:
    """Paid checkouts of `workspaces` workspaces, then an upgrade of each: their events."""
    bought = await catalog.buy(workspaces)
    events = await catalog.events_since(seen)
    for _, subscription_id in bought:
        await catalog.change_plan(subscription_id, "business")
    return events + await catalog.events_since(seen)


async def round_trips(
    client: Client, settings: Settings, events: list[dict[str, Any]]
) -> dict[str, Any]:
    """Each event alone through the workflow; the round trips it cost, by event type."""
    by_type: dict[str, list[int]] = defaultdict(list)
    async with counting_proxy(settings.database_url) as (proxied_url, wire):
        proxied = settings.model_copy(update={"database_url": proxied_url})
        async with worker_deps(proxied) as deps:
            async with build_worker(client, proxied, deps):
                for index, event in enumerate(events):
                    before = wire.count
                    await client.execute_workflow(
                        "StripeEventWorkflow",
                        StripeEventInput(event_id=event["id"], event_type=event["type"]),
                        id=event_workflow_id(event["id"]),
                        task_queue=settings.temporal_task_queue,
                    )
                    # The first events open the pools' connections; count the rest.
                    if index >= 4:
                        by_type[event["type"]].append(wire.count - before)
    every = [n for counts in by_type.values() for n in counts]
    return {
        "events": len(every),
        "mean": round(statistics.mean(every), 2),
        "by_type": {
            kind: {"n": len(counts), "median": statistics.median(counts), "max": max(counts)}
            for kind, counts in sorted(by_type.items())
        },
    }


async def drain_cpu(
    start: Callable[[int], Awaitable[None]], total: int, done: Callable[[], Awaitable[int]],
    worker: Worker,
) -> dict[str, float]:
    """Start `total` workflows with no worker polling, then drain them with `worker`; CPU
    seconds of this process per workflow over the drain, and the drain's rate."""
    for i in range(total):
        await start(i)
    cpu, wall = cpu_seconds(), time.perf_counter()
    async with worker:
        while await done() < total:
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - wall
    return {
        "n": total,
        "cpu_ms_per_event": round((cpu_seconds() - cpu) * 1000 / total, 1),
        "per_s": round(total / elapsed, 1),
    }


async def event_cpu(
    client: Client, settings: Settings, events: list[dict[str, Any]]
) -> dict[str, float]:
    engine = create_db_engine(settings.database_url, pool_size=1)
    ids = [e["id"] for e in events]

    async def start(i: int) -> None:
        event = events[i]
        await client.start_workflow(
            "StripeEventWorkflow",
            StripeEventInput(event_id=event["id"], event_type=event["type"]),
            id=event_workflow_id(event["id"]),
            task_queue=settings.temporal_task_queue,
        )

    async def done() -> int:
        async with engine.connect() as db:
            found = await db.execute(
                text("SELECT count(*) FROM stripe_webhook_events "
                     "WHERE id = ANY(:ids) AND status IN ('completed', 'ignored')"), {"ids": ids})
            return int(found.scalar_one())

    try:
        async with worker_deps(settings) as deps:
            return await drain_cpu(start, len(events), done, build_worker(client, settings, deps))
    finally:
        await engine.dispose()


async def bare_cpu(client: Client, total: int) -> dict[str, float]:
    queue = f"bench-bare-cpu-{uuid.uuid4()}"
    async def start(i: int) -> None:
        await client.start_workflow(
            TwoLocalActivitiesWorkflow.run, i, id=f"bare-cpu-{uuid.uuid4()}", task_queue=queue)

    async def done() -> int:
        running = await client.count_workflows(
            f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'")
        return total - running.count

    worker = Worker(client, task_queue=queue, workflows=[TwoLocalActivitiesWorkflow],
                    activities=[noop], workflow_runner=workflow_runner())
    return await drain_cpu(start, total, done, worker)


async def run(workspaces: int) -> dict[str, Any]:
    async with (
        database() as database_url,
        emulator_process() as emulator_url,
        await temporal_dev_server() as env,
    ):
        client = env.client
        settings = bench_settings(database_url, client.service_client.config.target_host,
                                  emulator_url, temporal_task_queue="billing-apply-bench")
        catalog = Catalog(emulator_url, database_url)
        seen: set[str] = set()
        log.info("buying and upgrading %d subscriptions, twice", workspaces)
        counted = await store(database_url, await lifecycle_events(catalog, workspaces, seen))
        drained = await store(database_url, await lifecycle_events(catalog, workspaces, seen))
        await catalog.http.aclose()
        log.info("round trips over %d events", len(counted))
        trips = await round_trips(client, settings, counted)
        log.info("  %s", trips)
        log.info("CPU over a drain of %d events", len(drained))
        cpu = await event_cpu(client, settings, drained)
        bare = await bare_cpu(client, len(drained))
        log.info("  events %s, bare %s", cpu, bare)
    return {
        "sql_round_trips_per_event": trips,
        "worker_cpu": cpu,
        "bare_two_local_activity_cpu": bare,
        "ratios": {
            "cpu_vs_bare": round(cpu["cpu_ms_per_event"] / bare["cpu_ms_per_event"], 2),
            "rate_vs_bare": round(cpu["per_s"] / bare["per_s"], 2),
        },
    }


def rows(result: dict[str, Any]) -> list[Row]:
    """The apply rows of the `billing bench` table."""
    trips = result["sql_round_trips_per_event"]
    kinds = ", ".join(
        f"{kind.split('.', 1)[1]} {figures['median']:g}"
        for kind, figures in trips["by_type"].items()
    )
    cpu, bare = result["worker_cpu"], result["bare_two_local_activity_cpu"]
    return [
        Row("apply: SQL round trips per event (median by type)",
            f"mean {trips['mean']:g} ({kinds})"),
        Row("apply: worker CPU per event, one in-process worker",
            f"{number(cpu['cpu_ms_per_event'])} ms ({rate(cpu)} drained)",
            f"bare 2-local-activity workflow {number(bare['cpu_ms_per_event'])} ms "
            f"({rate(bare)})",
            ratio(cpu["cpu_ms_per_event"], bare["cpu_ms_per_event"], "CPU")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspaces", type=int, default=60, help="paid checkouts per set")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("temporalio", "httpx", "stripe"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    sys.stdout.write(json.dumps(asyncio.run(run(args.workspaces)), indent=2) + "\n")


if __name__ == "__main__":
    main()
