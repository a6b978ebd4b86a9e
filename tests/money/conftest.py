"""The running system for the money-safety tests: the API over real HTTP (webhooks delivered
by the emulator), a worker, and what a buyer and an operator can look at."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from models.schedule_payloads import ReplayInput, ReplayResult
from tests.conftest import ADMIN_TOKEN, bearer, create_workspace
from tests.support import fetch_all, price_id
from tests.webhook.conftest import Shop, shop, workspace_state
from workflows.replay import ReplayWorkflow


@dataclass
class Money:
    http: httpx.AsyncClient
    shop: Shop
    env: WorkflowEnvironment
    settings: Settings

    async def owner(self) -> tuple[uuid.UUID, uuid.UUID]:
        return await create_workspace(self.shop.sessions)

    async def checkout(
        self, workspace_id: uuid.UUID, user_id: uuid.UUID, plan: str, interval: str = "monthly"
    ) -> httpx.Response:
        return await self.http.post(
            f"/api/v1/stripe/workspaces/{workspace_id}/checkout-session",
            json={"plan_slug": plan, "interval": interval},
            headers={**bearer(user_id), "Idempotency-Key": str(uuid.uuid4())},
        )

    async def status(self, workspace_id: uuid.UUID, user_id: uuid.UUID, session_id: str) -> Any:
        response = await self.http.get(
            f"/api/v1/stripe/workspaces/{workspace_id}/checkout-session/{session_id}",
            headers=bearer(user_id),
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def pay(self, session_id: str, outcome: str = "paid") -> Any:
        return await self.shop.control(
            f"checkout/sessions/{session_id}/complete", {"outcome": outcome}
        )

    async def live_subscriptions(self, customer_id: str) -> list[Any]:
        page = await self.shop.stripe.v1.subscriptions.list_async({"customer": customer_id})
        return [s for s in page.data if s.status in ("active", "trialing", "past_due")]

    async def mapped_customer(self, workspace_id: uuid.UUID) -> str:
        rows = await fetch_all(
            self.shop.sessions,
            "SELECT stripe_customer_id FROM workspace_billing_customers WHERE workspace_id = :w",
            w=workspace_id,
        )
        return str(rows[0].stripe_customer_id)

    async def settlements(self, workspace_id: uuid.UUID) -> list[Any]:
        return await fetch_all(
            self.shop.sessions,
            "SELECT winner_subscription_id, loser_subscription_id, rule, action, "
            "amount_refunded, amount_credited, stripe_event_id "
            "FROM billing_duplicate_settlements WHERE workspace_id = :w ORDER BY created_at",
            w=workspace_id,
        )

    async def state(self, workspace_id: uuid.UUID) -> dict[str, Any]:
        return await workspace_state(self.shop.sessions, workspace_id)

    async def replay(self) -> ReplayResult:
        return await self.env.client.execute_workflow(
            ReplayWorkflow.run,
            ReplayInput(),
            id=f"replay-test-{uuid.uuid4()}",
            task_queue=self.settings.temporal_task_queue,
        )


@pytest_asyncio.fixture
async def money(
    live_api: str,
    shop: Shop,
    billing_worker: Worker,
    temporal_env: WorkflowEnvironment,
    settings: Settings,
) -> AsyncIterator[Money]:
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as http:
        synced = await http.post(
            "/api/v1/stripe/catalog/sync", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert synced.status_code == 200, synced.text
        yield Money(http, shop, temporal_env, settings)


# `shop` is the webhook tests' fixture, shared here.
__all__ = ["Money", "money", "price_id", "shop"]
