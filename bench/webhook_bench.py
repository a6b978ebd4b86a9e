"""Webhook pipeline benchmark: acks, duplicates and event → plan, next to the engine's limits.

Self-contained: an in-memory Temporal dev server, a fresh PostgreSQL database, the Stripe
emulator, the API (uvicorn, 2 processes) and two workers (`python worker.py`) as their own
processes.
Events come from real lifecycles in the emulator (Events API), signed here with the webhook
secret and delivered over raw HTTP/1.1 keep-alive connections (a light client, so the
figures measure the server). Limits measured in the same run: the bare `start_workflow`
rate at the same concurrency, and the bare rate of a workflow with the event workflow's
two local activities. Run: `.venv/bin/python -m bench.webhook_bench` (about 2-3 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from bench.support import (
    EMULATOR_KEY,
    SECRET,
    RawHttp,
    bench_settings,
    database,
    emulator_process,
    figures,
    in_lanes,
    server_process,
    settings_env,
    temporal_dev_server,
)
from core.db import create_db_engine
from stripe_emulator.seed import catalog_ids, lookup_key
from stripe_emulator.webhooks import sign
from worker import workflow_runner

log = logging.getLogger("webhook_bench")
ROOT = Path(__file__).resolve().parents[1]
# dj-stripe on this machine kind: 3,000 signed deliveries of 828 events, 16 in flight.
PEER_ACK_PER_S = 134.0
PEER_DUPLICATES_PER_S = 272.0
PEER = {"ack_per_s": "118-134", "ack_p50_ms": "85-94", "ack_p99_ms": "522-662",
        "duplicates_per_s": PEER_DUPLICATES_PER_S}


@activity.defn(name="bench.webhook_noop")
async def noop(value: int) -> int:
    return value


@workflow.defn(sandboxed=False)
class TwoLocalActivitiesWorkflow:
    """The floor under StripeEventWorkflow: claim + apply as local activities doing nothing."""

    @workflow.run
    async def run(self, value: int) -> int:
        for _ in range(2):
            value = await workflow.execute_local_activity(
                noop, value, start_to_close_timeout=timedelta(seconds=10)
            )
        return value


class Catalog:
    """Buys subscriptions in the emulator and reads back the events it recorded."""

    def __init__(self, emulator_url: str, database_url: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=emulator_url, timeout=30,
            headers={"Authorization": f"Bearer {EMULATOR_KEY}"},
        )
        self.database_url = database_url

    def price(self, plan: str) -> str:
        return catalog_ids("bench")[lookup_key("bench", plan, "monthly")]

    async def buy(self, count: int) -> list[tuple[uuid.UUID, str]]:
        """`count` workspaces, each with a mapped customer and a paid `pro` subscription."""
        bought: list[tuple[uuid.UUID, str]] = []
        engine = create_db_engine(self.database_url)
        try:
            async with engine.begin() as db:
                for _ in range(count):
                    workspace_id = uuid.uuid4()
                    customer = (await self.http.post("/v1/customers", data={})).json()["id"]
                    await db.execute(
                        text("INSERT INTO workspaces (id, name) VALUES (:w, 'bench')"),
                        {"w": workspace_id},
                    )
                    await db.execute(
                        text("INSERT INTO workspace_billing_customers (workspace_id, "
                             "stripe_customer_id) VALUES (:w, :c)"),
                        {"w": workspace_id, "c": customer},
                    )
                    session = (await self.http.post("/v1/checkout/sessions", data={
                        "mode": "subscription", "customer": customer,
                        "client_reference_id": str(workspace_id),
                        "line_items[0][price]": self.price("pro"),
                        "line_items[0][quantity]": "1",
                        "subscription_data[metadata][workspace_id]": str(workspace_id),
                        "success_url": "http://app.test/ok",
                    })).json()
                    done = await self.http.post(
                        f"/_emulator/checkout/sessions/{session['id']}/complete",
                        json={"outcome": "paid"},
                    )
                    bought.append((workspace_id, done.json()["subscription"]))
        finally:
            await engine.dispose()
        return bought

    async def upgrade(self, subscription_id: str) -> None:
        await self.http.post(f"/_emulator/subscriptions/{subscription_id}/update",
                             json={"price": self.price("business")})

    async def events_since(self, seen: set[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = (await self.http.get("/v1/events", params=params)).json()
            fresh = [e for e in page["data"] if e["id"] not in seen]
            found.extend(fresh)
            if not page["has_more"] or len(fresh) < len(page["data"]):
                break
            params["starting_after"] = page["data"][-1]["id"]
        seen.update(e["id"] for e in found)
        return list(reversed(found))


def signed_body(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    payload = json.dumps(event, indent=2)
    return payload.encode(), {"Stripe-Signature": sign(payload, SECRET),
                              "Content-Type": "application/json"}


async def deliver_shuffled(
    api: RawHttp, events: list[dict[str, Any]], deliveries: int, lanes: int, seed: int
) -> dict[str, float]:
    """`deliveries` signed deliveries drawn from `events` (each at least once), shuffled."""
    rnd = random.Random(seed)
    picks = list(events) + [rnd.choice(events) for _ in range(deliveries - len(events))]
    rnd.shuffle(picks)
    bodies = [signed_body(e) for e in picks]

    async def one(i: int) -> None:
        status, _ = await api.post("/api/v1/stripe/webhook", *bodies[i])
        if status != 200:
            raise RuntimeError(f"webhook answered {status}")

    return await in_lanes(len(bodies), lanes, one)


async def bare_starts(client: Client, total: int, lanes: int) -> dict[str, float]:
    async def one(i: int) -> None:
        await client.start_workflow(
            "TwoLocalActivitiesWorkflow", i, id=f"bare-start-{uuid.uuid4()}",
            task_queue="bench-no-worker",
        )

    return await in_lanes(total, lanes, one)


async def bare_processing(client: Client, total: int) -> dict[str, float]:
    queue = "bench-bare-processing"
    async with Worker(client, task_queue=queue, workflows=[TwoLocalActivitiesWorkflow],
                      activities=[noop], workflow_runner=workflow_runner()):
        started = time.perf_counter()
        handles = [
            await client.start_workflow(TwoLocalActivitiesWorkflow.run, i,
                                        id=f"bare-{uuid.uuid4()}", task_queue=queue)
            for i in range(total)
        ]
        await asyncio.gather(*(h.result() for h in handles))
        elapsed = time.perf_counter() - started
    return {"n": total, "per_s": round(total / elapsed, 1)}


async def completed_count(database_url: str, ids: list[str]) -> int:
    engine = create_db_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as db:
            found = await db.execute(
                text("SELECT count(*) FROM stripe_webhook_events "
                     "WHERE id = ANY(:ids) AND status = 'completed'"), {"ids": ids})
            return int(found.scalar_one())
    finally:
        await engine.dispose()


async def wait_completed(database_url: str, ids: list[str], timeout: float) -> dict[str, float]:
    """Processed events/s, timed from the first completion (worker start-up excluded)."""
    deadline = time.perf_counter() + timeout
    first = 0
    while first == 0:
        first = await completed_count(database_url, ids)
        await asyncio.sleep(0.02)
    started = time.perf_counter()
    done = first
    while done < len(ids):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {done}/{len(ids)} events processed in time")
        await asyncio.sleep(0.1)
        done = await completed_count(database_url, ids)
    elapsed = time.perf_counter() - started
    return {"n": len(ids) - first, "per_s": round((len(ids) - first) / elapsed, 1)}


async def steady(api: RawHttp, database_url: str, events: list[dict[str, Any]],
                 rate: float) -> dict[str, float]:
    """Deliver one event every 1/rate s; latency = row completed (same transaction as the
    plan change) minus the moment the delivery was sent."""
    sent: dict[str, float] = {}

    async def one(event: dict[str, Any]) -> None:
        body, headers = signed_body(event)
        sent[event["id"]] = time.time()
        await api.post("/api/v1/stripe/webhook", body, headers)

    started = time.perf_counter()
    tasks = []
    for index, event in enumerate(events):
        await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(event)))
    await asyncio.gather(*tasks)
    await wait_completed(database_url, list(sent), 60)
    elapsed = time.perf_counter() - started
    engine = create_db_engine(database_url)
    try:
        async with engine.connect() as db:
            rows = (await db.execute(
                text("SELECT id, extract(epoch FROM processed_at) AS done "
                     "FROM stripe_webhook_events WHERE id = ANY(:ids)"), {"ids": list(sent)},
            )).all()
    finally:
        await engine.dispose()
    latencies = [float(r.done) - sent[r.id] for r in rows]
    result = figures(latencies, elapsed)
    result["offered_per_s"] = rate
    return result


async def run(workspaces: int, deliveries: int) -> dict[str, Any]:
    async with (
        database() as database_url,
        emulator_process() as emulator_url,
        await temporal_dev_server() as env,
    ):
        client = env.client
        settings = bench_settings(database_url, client.service_client.config.target_host,
                                  emulator_url, temporal_task_queue="billing-webhook-bench")
        env_vars = settings_env(settings)
        catalog = Catalog(emulator_url, database_url)
        seen: set[str] = set()
        log.info("buying %d subscriptions in the emulator", 2 * workspaces)
        await catalog.buy(workspaces)
        set_a = await catalog.events_since(seen)
        await catalog.buy(workspaces)
        set_b = await catalog.events_since(seen)
        results: dict[str, Any] = {
            "server": "Temporal dev server (in memory); API, worker, emulator and PostgreSQL "
                      "as separate processes on this machine (2 cores)",
        }
        async with (
            server_process([sys.executable, "-m", "uvicorn", "api.main:create_app",
                            "--factory", "--host", "127.0.0.1", "--port", "{port}",
                            "--workers", "2", "--log-level", "warning", "--no-access-log"],
                           "/healthz", env_vars) as api_url,
        ):
            api = RawHttp(api_url, 64)
            await deliver_shuffled(api, set_a[:50], 50, 4, 0)  # warm-up
            log.info("acks: %d deliveries of %d events, 16 in flight", deliveries, len(set_a))
            ack16 = await deliver_shuffled(api, set_a, deliveries, 16, 1)
            log.info("  %s", ack16)
            log.info("acks: %d deliveries of %d events, 50 in flight", deliveries, len(set_b))
            ack50 = await deliver_shuffled(api, set_b, deliveries, 50, 2)
            log.info("  %s", ack50)
            start16 = await bare_starts(client, deliveries // 3, 16)
            start50 = await bare_starts(client, deliveries // 3, 50)
            log.info("bare start_workflow: c=16 %s, c=50 %s", start16, start50)
            handled = [e["id"] for e in set_a + set_b if e["type"] in (
                "customer.subscription.created", "invoice.paid", "checkout.session.completed")]
            # Two worker processes, as a deployment scales them: one Python worker is CPU-bound
            # on this pipeline (about 40 ms of CPU per event), the engine is not.
            worker = [sys.executable, str(ROOT / "worker.py")]
            async with (
                server_process(worker, None, env_vars),
                server_process(worker, None, env_vars),
            ):
                processed = await wait_completed(database_url, handled, 300)
                log.info("worker drained %d queued events: %s", len(handled), processed)
                duplicates = await deliver_shuffled(api, set_a, deliveries, 16, 3)
                log.info("duplicates of processed events: %s", duplicates)
                bought = await catalog.buy(workspaces // 2)
                await catalog.events_since(seen)
                for _, subscription_id in bought:
                    await catalog.upgrade(subscription_id)
                upgrades = [e for e in await catalog.events_since(seen)
                            if e["type"] == "customer.subscription.updated"]
                event_to_plan = await steady(api, database_url, upgrades,
                                             rate=max(5.0, processed["per_s"] * 0.5))
                log.info("event -> plan at a steady rate: %s", event_to_plan)
            await api.close()
        bare = await bare_processing(client, 300)
        log.info("bare two-local-activity workflows: %s", bare)
        await catalog.http.aclose()
    results.update({
        "ack_16_in_flight": ack16, "bare_start_16": start16,
        "ack_50_in_flight": ack50, "bare_start_50": start50,
        "duplicate_acks_16": duplicates,
        "processed_saturated": processed, "bare_two_local_activity_workflows": bare,
        "event_to_plan_steady": event_to_plan,
        "peer_dj_stripe": PEER,
        "ratios": {
            "ack16_vs_bare_start": round(ack16["per_s"] / start16["per_s"], 2),
            "ack50_vs_bare_start": round(ack50["per_s"] / start50["per_s"], 2),
            "ack16_vs_dj_stripe": round(ack16["per_s"] / PEER_ACK_PER_S, 2),
            "duplicates_vs_dj_stripe": round(duplicates["per_s"] / PEER_DUPLICATES_PER_S, 2),
            "processed_vs_bare_workflow": round(processed["per_s"] / bare["per_s"], 2),
        },
    })
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspaces", type=int, default=120, help="paid checkouts per set")
    parser.add_argument("--deliveries", type=int, default=3000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("temporalio", "httpx", "stripe"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    results = asyncio.run(run(args.workspaces, args.deliveries))
    sys.stdout.write(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
