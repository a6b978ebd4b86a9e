"""A billing worker in a process of its own (settings from the environment), so a test can
kill it with SIGKILL in the middle of a delivery. Writes one line once it polls."""

from __future__ import annotations

import asyncio
import sys

from activities.deps import ActivityDeps
from core.config import load_settings
from core.db import create_db_engine, session_factory
from core.stripe_client import create_stripe_client
from core.temporal_client import connect_temporal
from worker import build_worker


async def serve() -> None:
    settings = load_settings()
    engine = create_db_engine(settings.database_url)
    client = await connect_temporal(settings)
    deps = ActivityDeps(
        settings=settings, sessions=session_factory(engine), stripe=create_stripe_client(settings)
    )
    # No schedules: the test owns this task queue and wants only its own work on it.
    async with build_worker(client, settings, deps):
        sys.stdout.write("worker polling\n")
        sys.stdout.flush()
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve())
