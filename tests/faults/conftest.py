"""Fault suite fixtures: the emulator process, a database per case, stacks always torn down."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.support import SECRET, wait_http
from core.db import create_db_engine, session_factory
from ops.postgres import fresh_database
from ops.processes import free_port
from tests.faults.processes import Child
from tests.faults.results import RECORDED, markdown
from tests.faults.shop import Shop
from tests.faults.stack import Stack
from tests.faults.verdict import install_application_counter
from tests.webhook.conftest import seed_plan_variants

StackFactory = Callable[..., Awaitable[Stack]]


@pytest_asyncio.fixture(scope="session")
async def fault_emulator(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The Stripe emulator as its own process (so its work competes with the service's for
    the CPU as Stripe's would not, but never with the test's own event loop)."""
    port = free_port()
    child = Child(
        "emulator",
        [sys.executable, "-m", "tests.faults.counting_emulator", "--port", str(port),
         "--webhook-secret", SECRET, "--seed-catalog", "test"],
        dict(os.environ),
        tmp_path_factory.mktemp("faults-emulator"),
    ).start()
    assert child.proc is not None
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_http(url + "/_emulator/health", child.proc)
        yield url
    finally:
        child.stop()


@pytest.fixture
def case_database(admin_database_url: str) -> Iterator[str]:
    """A fresh migrated database per case, counting every committed event application."""
    with fresh_database(admin_database_url, "billing_faults") as url:
        install_application_counter(url)
        yield url


@pytest_asyncio.fixture
async def engine(case_database: str) -> AsyncIterator[AsyncEngine]:
    db = create_db_engine(case_database, pool_size=2)
    yield db
    await db.dispose()


@pytest_asyncio.fixture
async def shop(fault_emulator: str, engine: AsyncEngine) -> AsyncIterator[Shop]:
    """A reset emulator (catalog of env "test") and the plan variants catalog sync would store."""
    store = Shop(fault_emulator, engine)
    await store.control("reset", {"keep_config": False})
    await store.control("seed-catalog", {"env": "test"})
    await seed_plan_variants(session_factory(engine))
    yield store
    await store.aclose()


@pytest_asyncio.fixture
async def stacks(
    tmp_path: Path, case_database: str, fault_emulator: str
) -> AsyncIterator[StackFactory]:
    """`await stacks(db_proxy=True, ...)`: a started Stack, always stopped after the case."""
    started: list[Stack] = []

    async def make(**options: Any) -> Stack:
        stack = Stack(tmp_path / f"stack-{len(started) + 1}", case_database, fault_emulator,
                      **options)
        started.append(stack)
        await stack.__aenter__()
        return stack

    try:
        yield make
    finally:
        for stack in reversed(started):
            await stack.aclose()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RECORDED:
        terminalreporter.write_sep("-", "fault suite (issue #13)")
        terminalreporter.write_line(markdown(RECORDED))
