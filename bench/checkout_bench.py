"""Checkout route latency (new keys, cached replays) next to a bare workflow on the same server.

Self-contained: its own in-memory Temporal dev server, a fresh database, the Stripe emulator
and the API (uvicorn, real HTTP) as child processes, as in production, and a worker built as
`billing worker` builds it, in this process.
The bare workflow runs the same number of local activities (4, doing nothing) as
CheckoutWorkflow, started and awaited through the client: the floor the route stands on.
Run: `.venv/bin/python -m bench.checkout_bench [--requests 200] [--concurrency 10]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import text
from temporalio.client import Client
from temporalio.worker import Worker

from activities.deps import ActivityDeps
from bench.checkout_baseline import FourLocalActivitiesWorkflow, noop
from bench.support import (
    ADMIN_TOKEN,
    JWT_SECRET,
    bench_settings,
    database,
    emulator_process,
    in_lanes,
    server_process,
    settings_env,
    temporal_dev_server,
)
from bench.table import Row, ratio, timed
from core.config import Settings
from core.db import create_db_engine, session_factory
from core.stripe_client import create_stripe_client
from core.tokens import mint_token
from worker import build_worker, workflow_runner

log = logging.getLogger("checkout_bench")


@asynccontextmanager
async def api_process(settings: Settings) -> AsyncIterator[str]:
    args = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
            "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning",
            "--no-access-log"]
    async with server_process(args, "/healthz", settings_env(settings)) as url:
        yield url


async def measure(
    name: str, total: int, concurrency: int, call: Callable[[int], Awaitable[None]]
) -> dict[str, float]:
    result = await in_lanes(total, concurrency, call)
    log.info("%-28s c=%-3d %s", name, concurrency, result)
    return result


async def owners(database_url: str, count: int) -> list[tuple[uuid.UUID, dict[str, str]]]:
    engine = create_db_engine(database_url)
    workspaces = [(uuid.uuid4(), uuid.uuid4()) for _ in range(count)]
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO workspaces (id, name) VALUES (:w, 'bench')"),
                [{"w": w} for w, _ in workspaces],
            )
            await connection.execute(
                text(
                    "INSERT INTO workspace_members (workspace_id, user_id, role) "
                    "VALUES (:w, :u, 'owner')"
                ),
                [{"w": w, "u": u} for w, u in workspaces],
            )
    finally:
        await engine.dispose()
    return [
        (w, {"Authorization": f"Bearer {mint_token(JWT_SECRET, u)}"}) for w, u in workspaces
    ]


async def bare_workflows(client: Client, total: int, concurrency: int) -> dict[str, Any]:
    queue = "bench-bare"
    async with Worker(
        client, task_queue=queue, workflows=[FourLocalActivitiesWorkflow],
        activities=[noop], workflow_runner=workflow_runner(),
    ):

        async def one(i: int) -> None:
            await client.execute_workflow(
                FourLocalActivitiesWorkflow.run, i, id=f"bare-{uuid.uuid4()}", task_queue=queue
            )

        await measure("bare warm-up", 20, 1, one)
        return {
            "sequential": await measure("bare 4-local-activity wf", total, 1, one),
            "concurrent": await measure("bare 4-local-activity wf", total, concurrency, one),
        }


async def run(requests: int, concurrency: int) -> dict[str, Any]:
    async with (
        database() as database_url,
        emulator_process() as emulator_url,
        await temporal_dev_server() as env,
    ):
        settings = bench_settings(
            database_url, env.client.service_client.config.target_host, emulator_url
        )
        engine = create_db_engine(database_url, pool_size=20)
        deps = ActivityDeps(
            settings=settings, sessions=session_factory(engine),
            stripe=create_stripe_client(settings),
        )
        # Two rounds of new keys (sequential, concurrent), each on its own workspaces.
        accounts = await owners(database_url, 2 * requests)
        keys: list[tuple[uuid.UUID, dict[str, str], str]] = []
        try:
            async with (
                build_worker(env.client, settings, deps),
                api_process(settings) as api,
                httpx.AsyncClient(base_url=api, timeout=30) as http,
            ):
                sync = await http.post(
                    "/api/v1/stripe/catalog/sync",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                )
                sync.raise_for_status()

                async def checkout(workspace_id: uuid.UUID, headers: dict[str, str],
                                   key: str) -> None:
                    response = await http.post(
                        f"/api/v1/stripe/workspaces/{workspace_id}/checkout-session",
                        json={"plan_slug": "pro", "interval": "monthly"},
                        headers={**headers, "Idempotency-Key": key},
                    )
                    if response.status_code != 200:
                        raise RuntimeError(f"checkout answered {response.status_code}")

                async def new_key(i: int, offset: int) -> None:
                    workspace_id, headers = accounts[offset + i]
                    key = str(uuid.uuid4())
                    await checkout(workspace_id, headers, key)
                    keys.append((workspace_id, headers, key))

                async def replay(i: int) -> None:
                    await checkout(*keys[i % len(keys)])

                await measure("checkout warm-up", 10, 1, lambda i: new_key(i, 0))
                checkouts = {
                    "new_key_sequential": await measure(
                        "checkout, new key", requests - 10, 1, lambda i: new_key(i, 10)
                    ),
                    "new_key_concurrent": await measure(
                        "checkout, new key", requests, concurrency,
                        lambda i: new_key(i, requests),
                    ),
                    "cached_sequential": await measure("checkout, cached replay", requests, 1,
                                                       replay),
                    "cached_concurrent": await measure(
                        "checkout, cached replay", requests, concurrency, replay
                    ),
                }
            bare = await bare_workflows(env.client, requests, concurrency)
        finally:
            await engine.dispose()
    seq, conc = checkouts["new_key_sequential"], checkouts["new_key_concurrent"]
    return {
        "server": "temporal dev server (in memory), API and emulator processes, 2 cores",
        "concurrency": concurrency,
        "checkout": checkouts,
        "bare_workflow_4_local_activities": bare,
        "ratios": {
            "new_key_p50_vs_bare_p50": round(seq["p50_ms"] / bare["sequential"]["p50_ms"], 2),
            "cached_p50_vs_new_key_p50": round(
                checkouts["cached_sequential"]["p50_ms"] / seq["p50_ms"], 2
            ),
            "new_key_rate_vs_bare_rate": round(conc["per_s"] / bare["concurrent"]["per_s"], 2),
        },
    }


def rows(result: dict[str, Any]) -> list[Row]:
    """The checkout rows of the `billing bench` table: each next to the bare workflow run the
    same way (p50 ratio in sequence, rate ratio under concurrency)."""
    checkouts, bare = result["checkout"], result["bare_workflow_4_local_activities"]
    concurrency = result["concurrency"]
    table = []
    for key, label in (("new_key", "new key"), ("cached", "cached replay")):
        for mode, how in (("sequential", "sequential"),
                          ("concurrent", f"{concurrency} concurrent")):
            ours, floor = checkouts[f"{key}_{mode}"], bare[mode]
            table.append(Row(
                f"checkout, {label}, {how}", timed(ours),
                f"bare 4-local-activity workflow {timed(floor)}",
                ratio(ours["p50_ms"], floor["p50_ms"], "p50") if mode == "sequential"
                else ratio(ours["per_s"], floor["per_s"], "rate"),
            ))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("temporalio", "stripe", "httpx", "billing", "uvicorn", "api", "activities"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    figures = asyncio.run(run(args.requests, args.concurrency))
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
