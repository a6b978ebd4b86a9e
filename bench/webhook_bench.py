"""Webhook pipeline benchmark: acks, duplicates, processing and event → plan, next to the
engine's limits and to dj-stripe.

Self-contained: an in-memory Temporal dev server, a fresh PostgreSQL database, the Stripe
emulator, the API (uvicorn, 2 processes) and the workers (`python worker.py`) as their own
processes.
Events come from real lifecycles in the emulator (Events API), signed here with the webhook
secret and delivered over raw HTTP/1.1 keep-alive connections (a light client, so the
figures measure the server). Acks are measured with no worker running. One set of events is
then processed by one worker, the other by two, each rate timed from the moment every worker
polls (start-up left out). Limits measured in the same run: the bare
`start_workflow` rate at the same concurrency, and the bare rate of a workflow with the event
workflow's two local activities, served by as many worker processes as the service had.
Run: `.venv/bin/python -m bench.webhook_bench [--steady-rate 15]` (about 6 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from temporalio.client import Client

from bench.latency_stages import stages
from bench.support import (
    Processes,
    RawHttp,
    bench_settings,
    database,
    emulator_process,
    figures,
    in_lanes,
    server_process,
    serving,
    settings_env,
    temporal_dev_server,
)
from bench.table import NONE, Row, latency, number, rate, ratio, timed
from bench.webhook_baseline import TwoLocalActivitiesWorkflow
from bench.webhook_events import Catalog, deliver_shuffled, signed_body
from core.db import create_db_engine

log = logging.getLogger("webhook_bench")
ROOT = Path(__file__).resolve().parents[1]
# dj-stripe 2.11 on this machine kind: 3,000 signed deliveries of 828 events, 16 in flight,
# processed inside the request (so its processed rate is its ack rate).
PEER_ACK_PER_S = 134.0
PEER_DUPLICATES_PER_S = 272.0
PEER = {"ack_per_s": "118-134", "ack_p50_ms": "85-94", "ack_p99_ms": "522-662",
        "processed_per_s": "118-134", "duplicates_per_s": PEER_DUPLICATES_PER_S}
HANDLED = ("customer.subscription.created", "invoice.paid", "checkout.session.completed")


async def bare_starts(client: Client, total: int, lanes: int) -> dict[str, float]:
    async def one(i: int) -> None:
        await client.start_workflow(
            "TwoLocalActivitiesWorkflow", i, id=f"bare-start-{uuid.uuid4()}",
            task_queue="bench-no-worker",
        )

    return await in_lanes(total, lanes, one)


def workers(client: Client, queue: str, count: int, env: dict[str, str]) -> Any:
    """`count` service workers, each `python worker.py` as a deployment runs it."""
    return serving(client, queue, [sys.executable, str(ROOT / "worker.py")], count, env)


async def wait_rate(
    count: Any, total: int, timeout: float, processes: Processes | None = None
) -> dict[str, float]:
    """Completions/s of what remains of `total` queued items, from now on; `count()` says
    how many are complete. With `processes`, their CPU time per completion too."""
    deadline = time.perf_counter() + timeout
    started = time.perf_counter()
    cpu = processes.cpu_seconds() if processes is not None else 0.0
    first = done = await count()
    if first >= total:
        raise RuntimeError(f"all {total} drained before timing began: queue more")
    while done < total:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {done}/{total} completed in time")
        await asyncio.sleep(0.1)
        done = await count()
    elapsed = time.perf_counter() - started
    result = {"n": total - first, "per_s": round((total - first) / elapsed, 1)}
    if processes is not None:
        spent = processes.cpu_seconds() - cpu
        result["cpu_ms_per_item"] = round(spent * 1000 / (total - first), 1)
    return result


async def bare_processing(
    client: Client, env: dict[str, str], total: int, worker_processes: int
) -> dict[str, float]:
    """`total` bare workflows queued first, then drained by `worker_processes` processes."""
    queue = f"bench-bare-processing-{worker_processes}-{uuid.uuid4().hex[:8]}"
    for i in range(total):
        await client.start_workflow(TwoLocalActivitiesWorkflow.run, i,
                                    id=f"bare-{uuid.uuid4()}", task_queue=queue)

    async def count() -> int:
        found = await client.count_workflows(
            f"TaskQueue = '{queue}' AND ExecutionStatus = 'Completed'")
        return found.count

    args = [sys.executable, "-m", "bench.webhook_baseline", queue]
    async with serving(client, queue, args, worker_processes, env) as processes:
        result = await wait_rate(count, total, 300, processes)
    return {**result, "worker_processes": worker_processes}


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


async def wait_completed(
    database_url: str, ids: list[str], timeout: float, processes: Processes | None = None
) -> dict[str, float]:
    """Processed events/s from now on (the workers already polling)."""

    async def count() -> int:
        return await completed_count(database_url, ids)

    return await wait_rate(count, len(ids), timeout, processes)


async def steady(api: RawHttp, database_url: str, events: list[dict[str, Any]],
                 rate: float, client: Client) -> dict[str, Any]:
    """Deliver one event every 1/rate s; latency = row completed (same transaction as the
    plan change) minus the moment the delivery was sent, with where that time went
    (`bench.latency_stages`)."""
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
    deadline = time.perf_counter() + 60
    while await completed_count(database_url, list(sent)) < len(sent):
        if time.perf_counter() > deadline:
            raise RuntimeError("steady events not all processed within 60 s")
        await asyncio.sleep(0.1)
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
    result: dict[str, Any] = dict(figures(latencies, elapsed))
    result["offered_per_s"] = rate
    result["stages"] = await stages(client, {r.id: (sent[r.id], float(r.done)) for r in rows})
    return result


async def steady_events(
    catalog: Catalog, seen: set[str], count: int, api: RawHttp, database_url: str
) -> list[dict[str, Any]]:
    """`count` plan changes of paid workspaces: each bought, moved to business, then back to
    pro, so every workspace changes twice, the two changes count/2 events apart. The
    purchases are delivered and applied first: left out, the replay schedule's Events API
    pass would find them missed and apply them during the measurement."""
    bought = await catalog.buy((count + 1) // 2)
    purchases = await catalog.events_since(seen)
    await deliver_shuffled(api, purchases, len(purchases), 8, 4)
    applied = [e["id"] for e in purchases if e["type"] in HANDLED]
    deadline = time.perf_counter() + 300
    while await completed_count(database_url, applied) < len(applied):
        if time.perf_counter() > deadline:
            raise RuntimeError("the steady workspaces' purchases were not applied in 300 s")
        await asyncio.sleep(0.2)
    for plan in ("business", "pro"):
        for _, subscription_id in bought:
            await catalog.change_plan(subscription_id, plan)
    changes = [e for e in await catalog.events_since(seen)
               if e["type"] == "customer.subscription.updated"]
    return changes[:count]


async def run(
    workspaces: int, deliveries: int, steady_rate: float = 15.0, steady_seconds: float = 20.0
) -> dict[str, Any]:
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
        log.info("webhook: buying %d subscriptions in the emulator", 2 * workspaces)
        await catalog.buy(workspaces)
        set_a = await catalog.events_since(seen)
        await catalog.buy(workspaces)
        set_b = await catalog.events_since(seen)
        handled_a = [e["id"] for e in set_a if e["type"] in HANDLED]
        handled_b = [e["id"] for e in set_b if e["type"] in HANDLED]
        api_args = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
                    "--host", "127.0.0.1", "--port", "{port}", "--workers", "2",
                    "--log-level", "warning", "--no-access-log"]
        async with server_process(api_args, "/healthz", env_vars) as api_url:
            api = RawHttp(api_url, 64)
            await deliver_shuffled(api, set_a[:50], 50, 4, 0)  # warm-up
            log.info("webhook: acks, %d deliveries of %d events, 16 in flight",
                     deliveries, len(set_a))
            ack16 = await deliver_shuffled(api, set_a, deliveries, 16, 1)
            log.info("  %s", ack16)
            async with workers(client, settings.temporal_task_queue, 1, env_vars) as one:
                processed_1 = await wait_completed(database_url, handled_a, 300, one)
            log.info("webhook: one worker drained %d queued events: %s",
                     len(handled_a), processed_1)
            log.info("webhook: acks, %d deliveries of %d events, 50 in flight",
                     deliveries, len(set_b))
            ack50 = await deliver_shuffled(api, set_b, deliveries, 50, 2)
            log.info("  %s", ack50)
            start16 = await bare_starts(client, deliveries // 3, 16)
            start50 = await bare_starts(client, deliveries // 3, 50)
            log.info("webhook: bare start_workflow, c=16 %s, c=50 %s", start16, start50)
            async with workers(client, settings.temporal_task_queue, 2, env_vars) as two:
                processed_2 = await wait_completed(database_url, handled_b, 300, two)
                log.info("webhook: two workers drained %d queued events: %s",
                         len(handled_b), processed_2)
                duplicates = await deliver_shuffled(api, set_a, deliveries, 16, 3)
                log.info("webhook: duplicates of processed events: %s", duplicates)
                changes = await steady_events(
                    catalog, seen, round(steady_rate * steady_seconds), api, database_url)
                event_to_plan = await steady(api, database_url, changes, steady_rate, client)
                log.info("webhook: event -> plan at %s/s: %s", steady_rate, event_to_plan)
                # The same at half of what the two workers just drained: the tail of a
                # pipeline with room, whatever this machine's capacity is against the rate.
                half_rate = max(2.0, round(processed_2["per_s"] / 2, 1))
                changes = await steady_events(
                    catalog, seen, round(half_rate * steady_seconds), api, database_url)
                at_half = await steady(api, database_url, changes, half_rate, client)
                log.info("webhook: event -> plan at %s/s: %s", half_rate, at_half)
            await api.close()
        bare_1 = await bare_processing(client, env_vars, len(handled_a), 1)
        bare_2 = await bare_processing(client, env_vars, len(handled_b), 2)
        log.info("webhook: bare two-local-activity workflows: %s; %s", bare_1, bare_2)
        await catalog.http.aclose()
    return {
        "server": "Temporal dev server (in memory); API, workers, emulator and PostgreSQL "
                  "as separate processes on this machine",
        "ack_16_in_flight": ack16, "bare_start_16": start16,
        "ack_50_in_flight": ack50, "bare_start_50": start50,
        "duplicate_acks_16": duplicates,
        "processed_1_worker": processed_1, "bare_two_local_activity_workflows_1": bare_1,
        "processed_2_workers": processed_2, "bare_two_local_activity_workflows_2": bare_2,
        "event_to_plan_steady": event_to_plan,
        "event_to_plan_half_capacity": at_half,
        "peer_dj_stripe": PEER,
        "ratios": {
            "ack16_vs_bare_start": round(ack16["per_s"] / start16["per_s"], 2),
            "ack50_vs_bare_start": round(ack50["per_s"] / start50["per_s"], 2),
            "ack16_vs_dj_stripe": round(ack16["per_s"] / PEER_ACK_PER_S, 2),
            "duplicates_vs_dj_stripe": round(duplicates["per_s"] / PEER_DUPLICATES_PER_S, 2),
            "processed_1_vs_bare_workflow": round(processed_1["per_s"] / bare_1["per_s"], 2),
            "processed_2_vs_bare_workflow": round(processed_2["per_s"] / bare_2["per_s"], 2),
        },
    }


def rows(result: dict[str, Any]) -> list[Row]:
    """The webhook rows of the `billing bench` table, dj-stripe's figures beside them."""
    ack16, ack50 = result["ack_16_in_flight"], result["ack_50_in_flight"]
    start16, start50 = result["bare_start_16"], result["bare_start_50"]
    duplicates = result["duplicate_acks_16"]
    table = [
        Row("webhook acks, 16 in flight", timed(ack16),
            f"bare `start_workflow` {timed(start16)}",
            ratio(ack16["per_s"], start16["per_s"], "rate"),
            f"118–134/s, p50 85–94 ms, p99 522–662 ms (ours "
            f"{number(ack16['per_s'] / PEER_ACK_PER_S)}×)"),
        Row("webhook acks, 50 in flight", timed(ack50),
            f"bare `start_workflow` {timed(start50)}",
            ratio(ack50["per_s"], start50["per_s"], "rate"), NONE),
        Row("webhook duplicate deliveries, 16 in flight", timed(duplicates), NONE, NONE,
            f"272/s (ours {number(duplicates['per_s'] / PEER_DUPLICATES_PER_S)}×)"),
    ]
    for count, key, plural in ((1, "1_worker", ""), (2, "2_workers", "es")):
        ours = result[f"processed_{key}"]
        bare = result[f"bare_two_local_activity_workflows_{count}"]
        table.append(Row(
            f"webhook processed events, {key.replace('_', ' ')}",
            f"{rate(ours)} ({ours['n']} events; worker CPU "
            f"{number(ours['cpu_ms_per_item'])} ms each)",
            f"bare 2-local-activity workflow, {count} worker process{plural}: {rate(bare)} "
            f"(CPU {number(bare['cpu_ms_per_item'])} ms each)",
            ratio(ours["per_s"], bare["per_s"], "rate"),
            "118–134/s (processed inside the request)"))
    for label, key in (("steady", "event_to_plan_steady"),
                       ("at half the 2-worker rate", "event_to_plan_half_capacity")):
        plan = result[key]
        parts = plan["stages"]
        table.append(Row(
            f"webhook event → plan, {label} {plan['offered_per_s']:g}/s",
            f"{latency(plan)} ({plan['n']} events); "
            + "; ".join(f"{name} p50 {number(parts[stage]['p50'])} / p99 "
                        f"{number(parts[stage]['p99'])} ms"
                        for name, stage in (("start", "start_ms"), ("queue", "queue_ms"),
                                            ("process", "process_ms")))
            + f"; {parts['events_with_extra_tasks']} with extra workflow tasks"))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspaces", type=int, default=120, help="paid checkouts per set")
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--steady-rate", type=float, default=15.0,
                        help="events/s offered for event -> plan")
    parser.add_argument("--steady-seconds", type=float, default=20.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("temporalio", "httpx", "stripe"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    results = asyncio.run(
        run(args.workspaces, args.deliveries, args.steady_rate, args.steady_seconds))
    sys.stdout.write(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
