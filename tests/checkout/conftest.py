"""Helpers for the checkout, portal and catalog tests: the running system and its observers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio
import stripe
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.worker import Worker

from tests.conftest import ADMIN_TOKEN, bearer, create_workspace, emulator_control, emulator_read

PRO_MONTHLY = {"plan_slug": "pro", "interval": "monthly"}


def checkout_url(workspace_id: uuid.UUID | str) -> str:
    return f"/api/v1/stripe/workspaces/{workspace_id}/checkout-session"


def portal_url(workspace_id: uuid.UUID | str) -> str:
    return f"/api/v1/stripe/workspaces/{workspace_id}/portal-session"


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


async def poll(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 10.0, interval: float = 0.02
) -> Any:
    """The first truthy result of `check`, polled until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@dataclass
class Billing:
    """The system under test as a client sees it, plus what an operator can inspect."""

    http: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    stripe: stripe.StripeClient
    emulator_url: str

    async def workspace(self, role: str = "owner") -> tuple[uuid.UUID, uuid.UUID]:
        return await create_workspace(self.sessions, role=role)

    async def checkout(
        self,
        workspace_id: uuid.UUID,
        user_id: uuid.UUID,
        key: str | uuid.UUID | None = None,
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        headers = bearer(user_id)
        if key is not None:
            headers["Idempotency-Key"] = str(key)
        return await self.http.post(
            checkout_url(workspace_id), json=PRO_MONTHLY if body is None else body, headers=headers
        )

    async def portal(
        self, workspace_id: uuid.UUID, user_id: uuid.UUID, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(
            portal_url(workspace_id), headers={**bearer(user_id), **(headers or {})}
        )

    async def sync_catalog(self) -> dict[str, Any]:
        response = await self.http.post(
            "/api/v1/stripe/catalog/sync", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await emulator_control(self.emulator_url, path, body)

    async def created(self, table: str) -> int:
        state = await emulator_read(self.emulator_url, "state")
        return int(state["created"].get(table, 0))

    async def faults_fired(self) -> int:
        return int((await emulator_read(self.emulator_url, "state"))["api_faults_fired"])

    async def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            result = await session.execute(text(sql), params)
            return [dict(row._mapping) for row in result]

    async def mapped_customer(self, workspace_id: uuid.UUID) -> str | None:
        rows = await self.rows(
            "SELECT stripe_customer_id FROM workspace_billing_customers WHERE workspace_id = :w",
            w=workspace_id,
        )
        return rows[0]["stripe_customer_id"] if rows else None

    async def audit(self, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
        return await self.rows(
            "SELECT event_type, old_stripe_customer_id, new_stripe_customer_id, reason "
            "FROM workspace_billing_customer_events WHERE workspace_id = :w ORDER BY id",
            w=workspace_id,
        )

    async def execute(self, sql: str, **params: Any) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(text(sql), params)


@pytest_asyncio.fixture
async def billing(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    stripe_client: stripe.StripeClient,
    billing_worker: Worker,
    emulator_server: Any,
) -> Billing:
    """API (ASGI), a worker on this test's queue and a fresh emulator; catalog synced."""
    system = Billing(client, sessions, stripe_client, emulator_server.url)
    await system.sync_catalog()
    return system
