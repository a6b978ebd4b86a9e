"""Availability: a silent database answers 503 on time, limits answer 429, the billing lock
leaves the main application's rows alone, and the Stripe budget is one for all processes."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api.main import create_app
from core.config import Settings
from core.db import create_db_engine
from core.shared_bucket import SharedTokenBucket
from rules.locks import lock_workspace
from tests.conftest import bearer, create_workspace


@pytest.fixture
def silent_database() -> Iterator[str]:
    """A port that accepts connections and never answers: a frozen PostgreSQL."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    port = server.getsockname()[1]
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/frozen"
    finally:
        server.close()


@pytest_asyncio.fixture
async def frozen_api(settings: Settings, silent_database: str) -> AsyncIterator[httpx.AsyncClient]:
    frozen = settings.model_copy(update={"database_url": silent_database})
    app = create_app(frozen)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


async def test_a_frozen_database_answers_503_within_the_deadline(
    frozen_api: httpx.AsyncClient, settings: Settings
) -> None:
    workspace = uuid.uuid4()
    user = uuid.uuid4()
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/api/v1/stripe/workspaces/{workspace}/billing", {}),
        ("GET", f"/api/v1/stripe/workspaces/{workspace}/checkout-session/cs_x", {}),
        (
            "POST",
            f"/api/v1/stripe/workspaces/{workspace}/checkout-session",
            {
                "json": {"plan_slug": "pro", "interval": "monthly"},
                "headers": {"Idempotency-Key": str(uuid.uuid4())},
            },
        ),
    ]
    for method, path, extra in calls:
        headers = {**bearer(user), **extra.pop("headers", {})}
        started = time.monotonic()
        response = await frozen_api.request(method, path, headers=headers, **extra)
        took = time.monotonic() - started
        assert response.status_code == 503, (path, response.text)
        assert response.json()["error"]["code"] == "BILLING_UNAVAILABLE"
        # The deadline is 3 s; a generous safety limit, not a performance claim.
        assert took < settings.api_db_timeout_seconds * 3, (path, took)
    ready = await frozen_api.get("/readyz")
    assert ready.status_code == 503


async def test_checkout_starts_are_limited_per_workspace(
    client: httpx.AsyncClient,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    billing_worker: Any,
) -> None:
    settings.checkout_starts_per_minute = 2
    workspace_id, user_id = await create_workspace(sessions)
    other_id, other_user = await create_workspace(sessions)
    url = f"/api/v1/stripe/workspaces/{workspace_id}/checkout-session"
    answers = []
    for plan in ("pro", "business", "pro"):
        answers.append(
            await client.post(
                url,
                json={"plan_slug": plan, "interval": "monthly"},
                headers={**bearer(user_id), "Idempotency-Key": str(uuid.uuid4())},
            )
        )
    assert [a.status_code for a in answers[:2]] != [429, 429]
    limited = answers[2]
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Another workspace is not affected.
    other = await client.post(
        f"/api/v1/stripe/workspaces/{other_id}/checkout-session",
        json={"plan_slug": "pro", "interval": "monthly"},
        headers={**bearer(other_user), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert other.status_code != 429


async def test_the_billing_lock_never_blocks_the_main_applications_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    async with sessions() as billing, billing.begin():
        assert await lock_workspace(billing, workspace_id)
        # While billing holds the workspace (as during a slow Stripe call), the main
        # application still writes its row, without waiting.
        async with sessions() as app, app.begin():
            await app.execute(text("SET LOCAL lock_timeout = '1s'"))
            await app.execute(
                text("UPDATE workspaces SET name = 'renamed' WHERE id = :w"), {"w": workspace_id}
            )
        # Another billing writer of the same workspace waits for the lock.
        async with sessions() as second, second.begin():
            await second.execute(text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(Exception, match="lock"):
                await lock_workspace(second, workspace_id)


async def test_two_processes_share_one_stripe_budget(database_url: str) -> None:
    rate, burst, block = 20.0, 3.0, 2
    engines = [create_db_engine(database_url, pool_size=2) for _ in range(2)]
    name = f"test-{uuid.uuid4().hex[:8]}"
    buckets = [SharedTokenBucket(e, name, rate=rate, burst=burst, block=block) for e in engines]
    stamps: list[float] = []

    async def spend(bucket: SharedTokenBucket, count: int) -> None:
        for _ in range(count):
            await bucket.acquire()
            stamps.append(time.monotonic())

    try:
        started = time.monotonic()
        await asyncio.gather(*(spend(b, 40) for b in buckets for _ in range(2)))
        elapsed = time.monotonic() - started
    finally:
        for engine in engines:
            await engine.dispose()
    stamps.sort()
    busiest = max(sum(1 for t in stamps if start <= t < start + 1.0) for start in stamps)
    # 160 tokens at 20/s: about 8 s in all, and never more than rate + burst + 2 blocks in
    # any one-second window, whichever "process" asked.
    assert elapsed >= (160 - burst) / rate * 0.9
    assert busiest <= rate + burst + len(buckets) * block, busiest
