"""Helpers of the tracing tests: the running system (live API, worker, emulator) as a buyer,
the return page and support see it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from core.constants import HANDLED_EVENT_TYPES
from tests.conftest import (
    ADMIN_TOKEN,
    bearer,
    create_workspace,
    emulator_control,
    emulator_read,
    make_settings,
)
from tests.support import eventually

T = TypeVar("T")
# The return page's threshold in these tests: a pending session reconciles after a second.
PENDING_RECONCILE_SECONDS = 1


def sample(name: str, **labels: str) -> float:
    """A metric's current value in this process's default registry (0 when never set)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def settings(
    database_url: str, temporal_env: WorkflowEnvironment, task_queue: str, emulator_server: Any
) -> Settings:
    return make_settings(
        database_url,
        temporal_env.client.service_client.config.target_host,
        task_queue,
        stripe_api_base=emulator_server.url,
        checkout_pending_reconcile_seconds=PENDING_RECONCILE_SECONDS,
    )


@dataclass
class System:
    """The live API over HTTP, the emulated Stripe, our database and Temporal."""

    http: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    emulator_url: str
    temporal: Client
    settings: Settings

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await emulator_control(self.emulator_url, path, body)

    async def control_get(self, path: str) -> Any:
        return await emulator_read(self.emulator_url, path)

    async def workspace(self, role: str = "owner") -> tuple[uuid.UUID, uuid.UUID]:
        return await create_workspace(self.sessions, role=role)

    async def checkout(
        self, workspace_id: uuid.UUID, user_id: uuid.UUID, key: uuid.UUID | None = None
    ) -> dict[str, Any]:
        response = await self.http.post(
            f"/api/v1/stripe/workspaces/{workspace_id}/checkout-session",
            json={"plan_slug": "pro", "interval": "monthly"},
            headers={**bearer(user_id), "Idempotency-Key": str(key or uuid.uuid4())},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def complete(self, session_id: str, outcome: str = "paid") -> str:
        """The buyer pays on the hosted page; the subscription Stripe created."""
        done = await self.control(f"checkout/sessions/{session_id}/complete", {"outcome": outcome})
        return str(done["subscription"])

    async def status(
        self, workspace_id: uuid.UUID, user_id: uuid.UUID, session_id: str
    ) -> httpx.Response:
        return await self.http.get(
            f"/api/v1/stripe/workspaces/{workspace_id}/checkout-session/{session_id}",
            headers=bearer(user_id),
        )

    async def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            result = await session.execute(text(sql), params)
            return [dict(row._mapping) for row in result]

    async def plan(self, workspace_id: uuid.UUID) -> str:
        found = await self.rows("SELECT plan FROM workspaces WHERE id = :w", w=workspace_id)
        return str(found[0]["plan"])

    async def handled_event_ids(self) -> list[str]:
        """Every handled event of the (reset) emulator account, oldest first."""
        found: list[dict[str, Any]] = []
        query: dict[str, Any] = {"limit": 100}
        headers = {"Authorization": "Bearer sk_test_tracing"}
        async with httpx.AsyncClient(base_url=self.emulator_url, timeout=10) as http:
            while True:
                page = (await http.get("/v1/events", params=query, headers=headers)).json()
                found.extend(page["data"])
                if not page["has_more"]:
                    break
                query["starting_after"] = page["data"][-1]["id"]
        return [e["id"] for e in reversed(found) if e["type"] in HANDLED_EVENT_TYPES]

    async def settled(self, timeout: float = 20.0) -> list[str]:
        """Wait until every webhook was delivered and every handled event is completed."""
        await eventually(lambda: self.control_get("webhooks"), lambda s: s["idle"], timeout)
        ids = await self.handled_event_ids()
        await eventually(
            lambda: self.rows(
                "SELECT id FROM stripe_webhook_events WHERE id = ANY(:ids) "
                "AND status = 'completed'",
                ids=ids,
            ),
            lambda done: len(done) == len(ids),
            timeout,
        )
        return ids


@pytest_asyncio.fixture
async def system(
    live_api: str,
    billing_worker: Worker,
    sessions: async_sessionmaker[AsyncSession],
    emulator_server: Any,
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> AsyncIterator[System]:
    """API served over HTTP (webhooks delivered to it), a worker, a fresh emulator; the
    catalog synced through the admin route."""
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as http:
        synced = await http.post(
            "/api/v1/stripe/catalog/sync", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert synced.status_code == 200, synced.text
        yield System(http, sessions, emulator_server.url, temporal_env.client, settings)
