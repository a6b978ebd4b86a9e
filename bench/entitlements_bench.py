"""Entitlements benchmark: reads next to a bare SELECT of the same row, and notice lag.

Self-contained: an in-memory Temporal dev server, a fresh PostgreSQL database, the emulator
(the worker's schedules expect a Stripe), the API (uvicorn, 2 processes, as in compose) with
one extra bench-only route — a bare SELECT of the same row through the same `run_db` — and a
worker (`python worker.py`) as their own processes; a receiver of the notices in this process.
Reads go over raw keep-alive HTTP/1.1 (a light client, so the figures measure the server),
with the service token, to random workspaces of a seeded set. Notice lag: changes committed
here at a steady rate through `refresh_entitlements` (the rules every writer uses), their
drainers woken after commit exactly as in an activity, until the receiver has the notice;
the limit next to it is a bare workflow with one activity started at the same rate.
Run: `.venv/bin/python -m bench.entitlements_bench` (about 2 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import text
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from bench.support import (
    RawHttp,
    bench_settings,
    database,
    emulator_process,
    in_lanes,
    server_process,
    serving,
    settings_env,
    temporal_dev_server,
)
from bench.table import Row, latency, ratio, timed
from core.config import Settings
from core.db import create_db_engine, session_factory, transaction
from core.notice_drainer import wake_drainers
from core.notice_wake import CommittedVersion, bind_waker, unbind_waker
from ops.processes import free_port
from rules.locks import lock_workspace
from rules.plans import PlanRef
from rules.subscription_state import refresh_entitlements
from worker import workflow_runner

log = logging.getLogger("entitlements_bench")
ROOT = Path(__file__).resolve().parents[1]
SERVICE_TOKEN = "bench-service-token-" + "k" * 24
APP_SECRET = "bench-app-webhook-secret-" + "q" * 16
PRICE = "price_bench_pro"


async def seed(database_url: str, count: int) -> list[uuid.UUID]:
    """Workspaces on a paid plan, each with its first version, written as the migration's
    backfill would (the read path is what is measured here)."""
    ids = [uuid.uuid4() for _ in range(count)]
    engine = create_db_engine(database_url)
    try:
        async with engine.begin() as connection:
            rows = [{"w": w, "s": f"sub_bench_{w.hex[:16]}"} for w in ids]
            await connection.execute(
                text("INSERT INTO workspaces (id, name, plan) VALUES (:w, 'bench', 'pro')"), rows
            )
            await connection.execute(
                text(
                    "INSERT INTO subscriptions (workspace_id, plan_slug, status, "
                    "stripe_subscription_id, stripe_price_id, interval) VALUES "
                    f"(:w, 'pro', 'active', :s, '{PRICE}', 'monthly')"
                ),
                rows,
            )
            await connection.execute(
                text(
                    "INSERT INTO workspace_entitlements (workspace_id, version, plan, interval, "
                    "status, grants, cause) VALUES (:w, 1, 'pro', 'monthly', 'active', "
                    "'{\"seats\": 5, \"forms\": 50}', 'bench')"
                ),
                rows,
            )
    finally:
        await engine.dispose()
    return ids


async def reads(api: str, workspaces: Sequence[uuid.UUID], total: int) -> dict[str, Any]:
    """Each route at 1 and 16 in flight, the bare SELECT next to it."""
    auth = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    base = "/api/v1/stripe/workspaces"
    paths = {
        "entitlements": lambda w: f"{base}/{w}/entitlements",
        "grant": lambda w: f"{base}/{w}/entitlements/seats",
        "bare_select": lambda w: f"/bench/bare/{w}",
    }
    results: dict[str, Any] = {}
    for lanes in (1, 16):
        http = RawHttp(api, lanes)
        for name, path in paths.items():
            rng = random.Random(lanes)
            errors: list[int] = []

            async def call(
                _: int,
                path: Any = path,
                rng: random.Random = rng,
                http: RawHttp = http,
                errors: list[int] = errors,
            ) -> None:
                status, _body = await http.get(path(rng.choice(workspaces)), auth)
                if status != 200:
                    errors.append(status)  # counted: a 503 past the deadline is a result

            await in_lanes(200, lanes, call)  # warm-up: connections, pools, caches
            errors.clear()
            row = await in_lanes(total if lanes > 1 else total // 4, lanes, call)
            results[f"{name}_{lanes}_in_flight"] = {**row, "errors": len(errors)}
            log.info("%-14s c=%-2d %s errors=%d", name, lanes, row, len(errors))
        await http.close()
    return results


class Receiver:
    """The main application's endpoint: 200 at once, arrival time per notice id."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.arrived.setdefault(json.loads(body)["id"], time.monotonic())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/entitlements"
    finally:
        server.should_exit = True
        await task


def lag_figures(lags: list[float], committed: Sequence[str], arrived: set[str]) -> dict[str, float]:
    """Lag percentiles; a version that never arrived is `superseded` when a newer version of
    its workspace did (the contract allows skipping it), else `lost`."""
    ordered = sorted(lags)
    newest: dict[str, int] = {}
    for notice in arrived:
        workspace, _, version = notice.rpartition("_")
        newest[workspace] = max(newest.get(workspace, 0), int(version))
    missing = [n.rpartition("_") for n in committed if n not in arrived]
    superseded = sum(1 for w, _, v in missing if newest.get(w, 0) > int(v))
    return {
        "n": len(ordered),
        "superseded": superseded,
        "lost": len(missing) - superseded,
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 1),
    }


async def notice_lag(
    settings: Settings,
    client: Client,
    receiver: Receiver,
    workspaces: Sequence[uuid.UUID],
    rate: float,
    seconds: float,
) -> dict[str, float]:
    """Commit → receiver for changes at `rate`/s, round-robin over `workspaces`."""
    engine = create_db_engine(settings.database_url, pool_size=20)
    sessions = session_factory(engine)
    committed: dict[str, float] = {}

    async def wake(changes: Sequence[CommittedVersion]) -> None:
        for change in changes:  # called right after the COMMIT, before anything else
            committed[f"ent_{change.workspace_id}_{change.version}"] = time.monotonic()
        await wake_drainers(
            client,
            settings.temporal_task_queue,
            (c.workspace_id for c in changes),
            settings.app_webhook_timeout_seconds,
        )

    async def change(i: int) -> None:
        workspace_id = workspaces[i % len(workspaces)]
        known: dict[str | None, PlanRef] = {PRICE: PlanRef("pro", "monthly", {"n": i})}
        async with transaction(sessions) as session:
            await lock_workspace(session, workspace_id)
            await refresh_entitlements(session, workspace_id, known, cause="bench")

    token = bind_waker(wake)
    tasks = []
    try:
        started, total = time.monotonic(), int(rate * seconds)
        for i in range(total):
            await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(change(i)))
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + 30
        while set(committed) - set(receiver.arrived) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        unbind_waker(token)
        await engine.dispose()
    lags = [receiver.arrived[i] - t for i, t in committed.items() if i in receiver.arrived]
    return lag_figures(lags, list(committed), set(receiver.arrived))


@activity.defn(name="bench.entitlements_arrived")
async def arrived(started: float) -> float:
    return time.monotonic() - started


@workflow.defn(sandboxed=False)
class OneActivityWorkflow:
    """The floor under a notice: a workflow started, one regular activity run."""

    @workflow.run
    async def run(self, started: float) -> float:
        return await workflow.execute_activity(
            arrived, started, start_to_close_timeout=timedelta(seconds=10)
        )


async def bare_lag(client: Client, rate: float, seconds: float) -> dict[str, float]:
    queue = "bench-bare-entitlements"
    lags: list[float] = []
    async with Worker(
        client,
        task_queue=queue,
        workflows=[OneActivityWorkflow],
        activities=[arrived],
        workflow_runner=workflow_runner(),
    ):

        async def one() -> None:
            lags.append(
                await client.execute_workflow(
                    OneActivityWorkflow.run,
                    time.monotonic(),
                    id=f"bare-{uuid.uuid4()}",
                    task_queue=queue,
                )
            )

        started, total, tasks = time.monotonic(), int(rate * seconds), []
        for i in range(total):
            await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return lag_figures(lags, [], set())


async def run(reads_total: int, rate: float, seconds: float, notices: bool) -> dict[str, Any]:
    receiver = Receiver()
    async with (
        database() as database_url,
        emulator_process() as emulator_url,
        await temporal_dev_server() as env,
        serve(receiver) as receiver_url,
    ):
        settings = bench_settings(
            database_url,
            env.client.service_client.config.target_host,
            emulator_url,
            billing_service_token=SERVICE_TOKEN,
            app_webhook_url=receiver_url,
            app_webhook_secret=APP_SECRET,
        )
        workspaces = await seed(database_url, 2000)
        api_args = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.entitlements_app:create_bench_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        env_vars = settings_env(settings)
        async with server_process(api_args, "/healthz", env_vars) as api:
            read_figures = await reads(api, workspaces, reads_total)
        if not notices:
            return {"reads": read_figures}
        worker_args = [sys.executable, str(ROOT / "worker.py")]
        async with serving(env.client, settings.temporal_task_queue, worker_args, 1, env_vars):
            cold = workspaces[:1000]  # each changes once: a new drainer per notice
            hot = workspaces[1000:1020]  # each changes every second: drainers keep running
            lag = {
                "new_drainer": await notice_lag(
                    settings, env.client, receiver, cold, rate, seconds
                ),
                "running_drainer": await notice_lag(
                    settings, env.client, receiver, hot, rate, seconds
                ),
            }
        lag["bare_workflow_one_activity"] = await bare_lag(env.client, rate, seconds)
    e1, b1 = read_figures["entitlements_1_in_flight"], read_figures["bare_select_1_in_flight"]
    e16, b16 = read_figures["entitlements_16_in_flight"], read_figures["bare_select_16_in_flight"]
    return {
        "server": "API: uvicorn, 2 processes; worker process; temporal dev server (in memory)",
        "reads": read_figures,
        "notice_lag": {**lag, "rate_per_s": rate, "seconds": seconds},
        "ratios": {
            "entitlements_p99_vs_bare_p99_1_in_flight": round(e1["p99_ms"] / b1["p99_ms"], 2),
            "entitlements_rate_vs_bare_rate_16_in_flight": round(e16["per_s"] / b16["per_s"], 2),
            "notice_lag_p50_vs_bare_workflow_p50": round(
                lag["new_drainer"]["p50_ms"] / lag["bare_workflow_one_activity"]["p50_ms"], 2
            ),
        },
        "targets": {"p99_ms_1_in_flight": 10, "per_s_16_in_flight": 1000},
    }


def rows(result: dict[str, Any]) -> list[Row]:
    """The entitlements rows of the `billing bench` table, each next to its floor."""
    reads, table = result["reads"], []
    for lanes in (1, 16):
        floor = reads[f"bare_select_{lanes}_in_flight"]
        for name, path in (("entitlements", "…/entitlements"), ("grant", "…/entitlements/{grant}")):
            ours = reads[f"{name}_{lanes}_in_flight"]
            table.append(Row(
                f"entitlements `GET {path}`, {lanes} in flight",
                f"{timed(ours)}; {ours['errors']} errors",
                f"bare `SELECT` {timed(floor)}", ratio(ours["per_s"], floor["per_s"], "rate")))
    lag = result.get("notice_lag")
    if lag is not None:
        bare = lag["bare_workflow_one_activity"]
        drainers = (("new_drainer", "a new drainer"), ("running_drainer", "drainers running"))
        for key, label in drainers:
            ours = lag[key]
            table.append(Row(
                f"entitlements notice lag, {label}, {lag['rate_per_s']:g} changes/s",
                f"{latency(ours)}; {ours['lost']} lost",
                f"bare workflow + 1 activity {latency(bare)}",
                ratio(ours["p50_ms"], bare["p50_ms"], "p50")))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=20000, help="reads per row at 16 in flight")
    parser.add_argument("--rate", type=float, default=20.0, help="changes per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--reads-only", action="store_true", help="skip the notice lag rows")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("temporalio", "stripe", "httpx", "billing", "uvicorn", "api", "activities"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    result = asyncio.run(run(args.reads, args.rate, args.seconds, not args.reads_only))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
