"""The running system for entitlement tests: live API, worker, emulator and a receiver of the
main application's notices, driven as a customer, Stripe and the main application would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
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
from tests.entitlements.receiver import APP_WEBHOOK_SECRET, Receiver, serve_receiver
from tests.support import eventually, price_id

SERVICE_TOKEN = "test-service-token-" + "s" * 24
# Short enough that a failing receiver's backoff passes in a test, long enough to be seen.
FAST_NOTICES: dict[str, Any] = {
    "app_webhook_timeout_seconds": 1.0,
    "app_webhook_retry_initial_seconds": 0.2,
    "app_webhook_retry_max_seconds": 1.0,
}


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as found:
        yield found


@pytest.fixture
def settings(
    database_url: str,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    emulator_server: Any,
    receiver: Receiver,
) -> Settings:
    return make_settings(
        database_url,
        temporal_env.client.service_client.config.target_host,
        task_queue,
        stripe_api_base=emulator_server.url,
        billing_service_token=SERVICE_TOKEN,
        app_webhook_url=receiver.url,
        app_webhook_secret=APP_WEBHOOK_SECRET,
        entitlement_rederive_pause_seconds=0.1,
        **FAST_NOTICES,
    )


@dataclass
class Stack:
    """The live API over HTTP, the emulated Stripe, our database, Temporal, the receiver."""

    http: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    emulator_url: str
    temporal: Client
    settings: Settings
    receiver: Receiver

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await emulator_control(self.emulator_url, path, body)

    async def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            result = await session.execute(text(sql), params)
            return [dict(row._mapping) for row in result]

    async def versions(self, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
        return await self.rows(
            "SELECT * FROM workspace_entitlements WHERE workspace_id = :w ORDER BY version",
            w=workspace_id,
        )

    async def notices(self, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
        return await self.rows(
            "SELECT * FROM entitlement_notices WHERE workspace_id = :w ORDER BY version",
            w=workspace_id,
        )

    async def read(self, workspace_id: uuid.UUID, path: str = "", **headers: str) -> httpx.Response:
        return await self.http.get(
            f"/api/v1/stripe/workspaces/{workspace_id}/entitlements{path}",
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}", **headers},
        )

    async def buy(self, plan: str = "pro") -> tuple[uuid.UUID, uuid.UUID, str]:
        """A new workspace bought `plan` monthly through our checkout and the hosted page;
        its id, its owner and the subscription Stripe created."""
        workspace_id, owner = await create_workspace(self.sessions)
        return await self.buy_for(workspace_id, owner, plan)

    async def buy_for(
        self, workspace_id: uuid.UUID, owner: uuid.UUID | None = None, plan: str = "pro"
    ) -> tuple[uuid.UUID, uuid.UUID, str]:
        if owner is None:
            [member] = await self.rows(
                "SELECT user_id FROM workspace_members WHERE workspace_id = :w", w=workspace_id
            )
            owner = member["user_id"]
        assert owner is not None
        response = await self.http.post(
            f"/api/v1/stripe/workspaces/{workspace_id}/checkout-session",
            json={"plan_slug": plan, "interval": "monthly"},
            headers={**bearer(owner), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 200, response.text
        session_id = response.json()["id"]
        done = await self.control(f"checkout/sessions/{session_id}/complete", {"outcome": "paid"})
        return workspace_id, owner, str(done["subscription"])

    async def switch(self, subscription_id: str, plan: str) -> None:
        """What the Billing Portal does on a plan switch."""
        await self.control(f"subscriptions/{subscription_id}/update", {"price": price_id(plan)})

    async def handled_event_ids(self) -> list[str]:
        found: list[dict[str, Any]] = []
        query: dict[str, Any] = {"limit": 100}
        headers = {"Authorization": "Bearer sk_test_entitlements"}
        async with httpx.AsyncClient(base_url=self.emulator_url, timeout=10) as http:
            while True:
                page = (await http.get("/v1/events", params=query, headers=headers)).json()
                found.extend(page["data"])
                if not page["has_more"]:
                    break
                query["starting_after"] = page["data"][-1]["id"]
        return [e["id"] for e in found if e["type"] in HANDLED_EVENT_TYPES]

    async def settled(self, timeout: float = 30.0) -> None:
        """Every webhook delivered and every handled event of the account final."""
        await eventually(
            lambda: emulator_read(self.emulator_url, "webhooks"), lambda s: s["idle"], timeout
        )
        ids = await self.handled_event_ids()
        await eventually(
            lambda: self.rows(
                "SELECT id FROM stripe_webhook_events WHERE id = ANY(:ids) "
                "AND status IN ('completed', 'ignored')",
                ids=ids,
            ),
            lambda done: len(done) == len(ids),
            timeout,
        )

    async def sync_catalog(self) -> dict[str, Any]:
        response = await self.http.post(
            "/api/v1/stripe/catalog/sync", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert response.status_code == 200, response.text
        summary: dict[str, Any] = response.json()
        return summary

    async def delivered_version(self, workspace_id: uuid.UUID, version: int) -> None:
        """Wait until the receiver acknowledged `version` of the workspace."""
        await eventually(
            lambda: _newest(self.receiver, str(workspace_id)),
            lambda newest: newest >= version,
            timeout=30,
        )


async def _newest(receiver: Receiver, workspace_id: str) -> int:
    return receiver.newest(workspace_id)


@pytest_asyncio.fixture
async def stack(
    live_api: str,
    billing_worker: Worker,
    sessions: async_sessionmaker[AsyncSession],
    emulator_server: Any,
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    receiver: Receiver,
) -> AsyncIterator[Stack]:
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as http:
        found = Stack(http, sessions, emulator_server.url, temporal_env.client, settings, receiver)
        await found.sync_catalog()
        yield found
