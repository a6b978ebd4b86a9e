"""The Temporal worker: serves the billing workflows and activities until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.deps import ActivityDeps
from activities.registry import build_activities
from core.config import Settings, get_settings
from core.db import create_db_engine, libpq_url, session_factory
from core.logging import configure_logging, register_secret
from core.notice_drainer import NoticeWakeInterceptor
from core.schedules import ensure_schedules
from core.shared_bucket import SharedTokenBucket
from core.stripe_client import create_stripe_client
from core.temporal_client import connect_temporal, runtime_with_prometheus
from core.worker_metrics import ScheduledRunMetrics, serve_worker_metrics
from ledger.dispatcher import Dispatcher
from workflows.registry import WORKFLOWS

logger = logging.getLogger("billing.worker")

# Loaded once outside the sandbox: pure data modules, and heavy libraries that workflows
# only reference through payload types.
PASSTHROUGH_MODULES = ("models", "billing", "pydantic", "pydantic_core", "sqlmodel", "sqlalchemy")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def worker_pool_size(settings: Settings) -> int:
    """A connection for every local activity the worker may run at once, and room for the
    short transactions of regular activities (batches, notices) and the dispatcher."""
    return settings.worker_concurrency + 12


def build_worker(client: Client, settings: Settings, deps: ActivityDeps) -> Worker:
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(deps),
        workflow_runner=workflow_runner(),
        max_concurrent_workflow_tasks=settings.worker_concurrency,
        max_concurrent_local_activities=settings.worker_concurrency,
        # Every activity wakes the notice drainers of the entitlement versions it committed.
        interceptors=[ScheduledRunMetrics(), NoticeWakeInterceptor(settings)],
        graceful_shutdown_timeout=timedelta(seconds=20),
    )


@asynccontextmanager
async def worker_deps(settings: Settings) -> AsyncIterator[ActivityDeps]:
    """What the worker's activities run on: the database pool, the cluster's Stripe budget
    and the Stripe client, closed on exit."""
    # A transaction that stays open across a Stripe call (the re-fetch under the workspace
    # lock) may wait for every try of that call; PostgreSQL ends one idle longer than that.
    stripe_budget = settings.stripe_http_timeout_seconds * (settings.stripe_max_network_retries + 1)
    engine = create_db_engine(
        settings.database_url,
        pool_size=worker_pool_size(settings),
        max_overflow=0,
        idle_in_transaction_seconds=stripe_budget + 30,
    )
    # The cluster's one Stripe budget, on connections of its own.
    bucket_engine = create_db_engine(settings.database_url, pool_size=2, max_overflow=0)
    bucket = SharedTokenBucket(
        bucket_engine,
        "stripe",
        rate=settings.stripe_max_requests_per_second,
        burst=settings.stripe_max_burst,
    )
    deps = ActivityDeps(
        settings=settings,
        sessions=session_factory(engine),
        stripe=create_stripe_client(settings, bucket),
    )
    try:
        yield deps
    finally:
        await deps.notice_http.aclose()
        await engine.dispose()
        await bucket_engine.dispose()


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    for secret in settings.secret_values():
        register_secret(secret)
    metrics = serve_worker_metrics(settings.worker_metrics_port, settings.worker_metrics_host)
    sdk_metrics = settings.temporal_sdk_metrics_address
    client = await connect_temporal(
        settings, runtime=runtime_with_prometheus(sdk_metrics) if sdk_metrics else None
    )
    try:
        async with worker_deps(settings) as deps:
            worker = build_worker(client, settings, deps)
            await ensure_schedules(client, settings, {cls.__name__ for cls in WORKFLOWS})
            # Starts what the webhook route stored but could not start (Temporal down, API
            # killed).
            dispatcher = Dispatcher(
                libpq_url(settings.database_url),
                deps.sessions,
                client,
                settings.temporal_task_queue,
                settings.stripe_webhook_max_attempts,
            )
            dispatching = asyncio.create_task(dispatcher.run(stop))
            try:
                async with worker:
                    logger.info("worker serving task queue %s", settings.temporal_task_queue)
                    await stop.wait()
                    logger.info("worker shutting down: finishing in-flight tasks")
            finally:
                await dispatching
    finally:
        if metrics is not None:
            metrics.shutdown()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
