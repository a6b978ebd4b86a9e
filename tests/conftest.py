"""Shared fixtures: a fresh PostgreSQL database per session, a real Temporal dev server, the app."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import stripe
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.deps import ActivityDeps
from api.main import create_app
from core.config import Settings
from core.constants import SEARCH_ATTRIBUTES
from core.db import create_db_engine, session_factory
from core.payload_keys import PayloadKeys
from core.stripe_client import create_stripe_client
from core.temporal_client import data_converter
from core.tokens import mint_token
from ops.postgres import (
    admin_database,
    fresh_database,
)
from ops.processes import free_port
from worker import build_worker

SLOW_TESTS = os.environ.get("BILLING_SLOW_TESTS", "") not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow suite (browser, whole local stack) runs only when asked for: the default run
    stays fast, `./scripts/test.sh --slow` (what CI runs) includes it."""
    if SLOW_TESTS:
        return
    skip = pytest.mark.skip(reason="slow suite: run ./scripts/test.sh --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


JWT_SECRET = "test-jwt-secret-" + "x" * 32
# Every test client and worker encrypts payloads, as production does. A fixed key, so a
# history re-recorded by the tests can be replayed by them later.
TEST_PAYLOAD_KEYS = "tests-1:" + base64.b64encode(hashlib.sha256(b"billing tests").digest()).decode(
    "ascii"
)
TEST_DATA_CONVERTER = data_converter(PayloadKeys.parse(TEST_PAYLOAD_KEYS))
WEBHOOK_SECRET = "whsec_test_secret"
ADMIN_TOKEN = "test-admin-token-123456"
# The emulator's secret key: the service's Stripe key and the control routes' bearer token.
EMULATOR_KEY = "sk_test_emulator"
EMULATOR_HEADERS = {"Authorization": f"Bearer {EMULATOR_KEY}"}


def _venv_binary(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        raise RuntimeError(f"{name} binary not found; install the dev extra")
    return found


@pytest.fixture(scope="session")
def admin_database_url() -> Iterator[str]:
    """DATABASE_URL when set, else the local server on :5432, else an embedded PostgreSQL."""
    with admin_database(os.environ.get("DATABASE_URL")) as url:
        yield url


@pytest.fixture(scope="session")
def database_url(admin_database_url: str) -> Iterator[str]:
    """A fresh database for this test session, migrated to head by Alembic."""
    with fresh_database(admin_database_url, "billing_test") as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_db_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(db_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(db_engine)


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (in memory) on free ports, with our search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_venv_binary("temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=TEST_DATA_CONVERTER,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"billing-test-{uuid.uuid4().hex[:8]}"


def make_settings(
    database_url: str, temporal_address: str, task_queue: str, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "billing_env": "test",
        "database_url": database_url,
        "auth_jwt_secret": JWT_SECRET,
        "stripe_secret_key": EMULATOR_KEY,
        "stripe_webhook_signing_secret": WEBHOOK_SECRET,
        "checkout_success_url": "http://app.test/billing/success?session_id={CHECKOUT_SESSION_ID}",
        "checkout_cancel_url": "http://app.test/billing/cancel",
        "billing_portal_return_url": "http://app.test/billing",
        "contact_sales_url": "http://app.test/sales",
        "temporal_address": temporal_address,
        "temporal_task_queue": task_queue,
        "stripe_internal_admin_token": ADMIN_TOKEN,
        "stripe_catalog_env": "test",
        "temporal_payload_keys": TEST_PAYLOAD_KEYS,
        "log_json": False,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest_asyncio.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
        yield http


def bearer(user_id: uuid.UUID, secret: str = JWT_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(secret, user_id)}"}


async def create_workspace(
    sessions: async_sessionmaker[AsyncSession], role: str = "owner"
) -> tuple[uuid.UUID, uuid.UUID]:
    """A workspace and one member with `role`, inserted as the main application would."""
    from sqlalchemy import text

    workspace_id, user_id = uuid.uuid4(), uuid.uuid4()
    async with sessions() as session, session.begin():
        await session.execute(
            text("INSERT INTO workspaces (id, name) VALUES (:id, 'Acme')"), {"id": workspace_id}
        )
        await session.execute(
            text("INSERT INTO workspace_members (workspace_id, user_id, role) VALUES (:w, :u, :r)"),
            {"w": workspace_id, "u": user_id, "r": role},
        )
    return workspace_id, user_id


# --- The running system: Stripe emulator, API over real HTTP, and a worker ------------------


@pytest_asyncio.fixture(scope="session")
async def emulator_server() -> AsyncIterator[Any]:
    """One Stripe emulator for the session on a free port; each test resets it."""
    from stripe_emulator.testing import EmulatorServer

    async with EmulatorServer(webhook_secret=WEBHOOK_SECRET, secret_key=EMULATOR_KEY) as server:
        yield server


@pytest.fixture
def settings(
    database_url: str,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    emulator_server: Any,
) -> Settings:
    return make_settings(
        database_url,
        temporal_env.client.service_client.config.target_host,
        task_queue,
        stripe_api_base=emulator_server.url,
    )


async def emulator_control(base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST a control route: the emulator's key as a bearer token, a JSON body."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=EMULATOR_HEADERS) as http:
        response = await http.post(f"/_emulator/{path}", json=body or {})
        response.raise_for_status()
        return response.json()


async def emulator_read(base_url: str, path: str) -> Any:
    """GET a control route (state, webhooks, deliveries, config) with the emulator's key."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=EMULATOR_HEADERS) as http:
        response = await http.get(f"/_emulator/{path}")
        response.raise_for_status()
        return response.json()


@pytest_asyncio.fixture
async def stripe_client(settings: Settings, emulator_server: Any) -> stripe.StripeClient:
    """A fresh emulator (state wiped, catalog of seed 002 §4 seeded for env "test")."""
    await emulator_control(emulator_server.url, "reset")
    await emulator_control(
        emulator_server.url,
        "config",
        {
            "webhook_url": None,
            "webhook_secret": WEBHOOK_SECRET,
            "retry_base_delay": 0.05,
            "delivery_faults": {},
            "api_faults": [],
        },
    )
    await emulator_control(emulator_server.url, "seed-catalog", {"env": "test"})
    return create_stripe_client(settings)


@pytest_asyncio.fixture
async def live_api(
    settings: Settings, stripe_client: stripe.StripeClient, emulator_server: Any
) -> AsyncIterator[str]:
    """The API served by uvicorn on a free port; the emulator delivers webhooks to it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    await emulator_control(
        emulator_server.url, "config", {"webhook_url": f"{url}/api/v1/stripe/webhook"}
    )
    yield url
    await emulator_control(emulator_server.url, "config", {"webhook_url": None})
    server.should_exit = True
    await serving


@pytest_asyncio.fixture
async def billing_worker(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    stripe_client: stripe.StripeClient,
) -> AsyncIterator[Worker]:
    """A worker on this test's task queue, built exactly as `billing worker` builds it."""
    deps = ActivityDeps(settings=settings, sessions=sessions, stripe=stripe_client)
    worker = build_worker(temporal_env.client, settings, deps)
    async with worker:
        yield worker
