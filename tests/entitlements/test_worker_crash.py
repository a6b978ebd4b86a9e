"""Killing the worker in the middle of a delivery loses nothing: another worker delivers the
same notice (same id) once the dead attempt's time is up."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
import stripe
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from activities.deps import ActivityDeps
from core.config import Settings
from tests.conftest import create_workspace
from tests.entitlements.conftest import Stack
from tests.entitlements.receiver import Receiver
from tests.support import eventually
from worker import build_worker

ROOT = Path(__file__).resolve().parents[2]


def settings_env(settings: Settings) -> dict[str, str]:
    return {
        name.upper(): str(getattr(settings, name))
        for name in settings.model_fields_set
        if getattr(settings, name) is not None
    }


@pytest_asyncio.fixture
async def doomed_worker(settings: Settings) -> AsyncIterator[subprocess.Popen[str]]:
    """`python -m tests.entitlements.worker_process` on this test's task queue."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.entitlements.worker_process"],
        cwd=ROOT,
        env={**os.environ, **settings_env(settings)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), timeout=60)
    assert line.strip() == "worker polling", line
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)


async def test_a_worker_killed_mid_delivery_loses_nothing(
    settings: Settings,
    live_api: str,
    sessions: async_sessionmaker[AsyncSession],
    emulator_server: Any,
    temporal_env: WorkflowEnvironment,
    stripe_client: stripe.StripeClient,
    receiver: Receiver,
    doomed_worker: subprocess.Popen[str],
) -> None:
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as http:
        stack = Stack(http, sessions, emulator_server.url, temporal_env.client, settings, receiver)
        await stack.sync_catalog()
        workspace_id, _ = await create_workspace(sessions)
        # The first delivery never gets an answer: the worker sending it dies meanwhile.
        receiver.scripts[str(workspace_id)] = [("hold",)]
        await stack.buy_for(workspace_id)
        await eventually(lambda: _count(receiver, str(workspace_id)), lambda n: n == 1)
        os.kill(doomed_worker.pid, signal.SIGKILL)
        doomed_worker.wait(timeout=30)

        deps = ActivityDeps(settings=settings, sessions=sessions, stripe=stripe_client)
        async with build_worker(temporal_env.client, settings, deps):
            await stack.delivered_version(workspace_id, 1)
            await stack.settled()

    received = receiver.of(str(workspace_id))
    assert [r.id for r in received] == [f"ent_{workspace_id}_1"] * 2  # the redelivery keeps it
    assert [r.answered for r in received] == [0, 200]
    [notice] = await stack.notices(workspace_id)
    # The killed attempt recorded nothing; the one that succeeded did.
    assert (notice["status"], notice["attempts"]) == ("delivered", 1)
    assert [v["version"] for v in await stack.versions(workspace_id)] == [1]


async def _count(receiver: Receiver, workspace_id: str) -> int:
    return len(receiver.of(workspace_id))
