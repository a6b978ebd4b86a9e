"""Helpers of the webhook tests: buy through the emulator, sign events, poll the ledger."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest_asyncio
import stripe
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from core.constants import HANDLED_EVENT_TYPES
from stripe_emulator.webhooks import sign
from tests.conftest import WEBHOOK_SECRET, create_workspace, emulator_control, emulator_read
from tests.support import eventually, fetch_all, price_id

T = TypeVar("T")
PRICE_GRANTS = {"pro": {"seats": 5, "forms": 50}, "business": {"seats": 25, "forms": 100}}


async def seed_plan_variants(sessions: async_sessionmaker[AsyncSession]) -> None:
    """What catalog sync would store for env "test": price → plan, with merged grants."""
    async with sessions() as session, session.begin():
        for plan, grants in PRICE_GRANTS.items():
            for interval in ("monthly", "yearly"):
                await session.execute(
                    text(
                        "INSERT INTO plan_variants (plan_slug, interval, currency, "
                        "stripe_price_id, grants) VALUES (:p, :i, 'usd', :price, "
                        "CAST(:g AS jsonb)) ON CONFLICT DO NOTHING"
                    ),
                    {
                        "p": plan,
                        "i": interval,
                        "price": price_id(plan, interval),
                        "g": json.dumps(grants),
                    },
                )


@dataclass
class Buyer:
    """A workspace with its Stripe customer mapped, as checkout leaves it."""

    workspace_id: uuid.UUID
    customer_id: str


@dataclass
class Shop:
    stripe: stripe.StripeClient
    sessions: async_sessionmaker[AsyncSession]
    emulator_url: str

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await emulator_control(self.emulator_url, path, body)

    async def buyer(self, *, mapped: bool = True) -> Buyer:
        workspace_id, _ = await create_workspace(self.sessions)
        customer = await self.stripe.v1.customers.create_async(
            {
                "email": f"{workspace_id.hex[:8]}@example.com",
                "metadata": {"workspace_id": str(workspace_id)},
            }
        )
        if mapped:
            async with self.sessions() as session, session.begin():
                await session.execute(
                    text(
                        "INSERT INTO workspace_billing_customers (workspace_id, "
                        "stripe_customer_id) VALUES (:w, :c)"
                    ),
                    {"w": workspace_id, "c": customer.id},
                )
        return Buyer(workspace_id, customer.id)

    async def checkout(
        self, buyer: Buyer, plan: str = "pro", interval: str = "monthly", outcome: str = "paid"
    ) -> tuple[str, str]:
        """Checkout as seed 000 says (client_reference_id = workspace id); returns
        (checkout session id, subscription id)."""
        session = await self.stripe.v1.checkout.sessions.create_async(
            {
                "mode": "subscription",
                "customer": buyer.customer_id,
                "client_reference_id": str(buyer.workspace_id),
                "line_items": [{"price": price_id(plan, interval), "quantity": 1}],
                "subscription_data": {"metadata": {"workspace_id": str(buyer.workspace_id)}},
                "success_url": "http://app.test/ok",
                "cancel_url": "http://app.test/cancel",
            }
        )
        done = await self.control(f"checkout/sessions/{session.id}/complete", {"outcome": outcome})
        return session.id, done["subscription"]

    async def update(self, subscription_id: str, **changes: Any) -> Any:
        return await self.control(f"subscriptions/{subscription_id}/update", changes)

    async def invoice(self, subscription_id: str, paid: bool) -> Any:
        return await self.control(f"subscriptions/{subscription_id}/invoice", {"paid": paid})

    async def events(self, **params: Any) -> list[dict[str, Any]]:
        """Every event of the emulator's account, oldest first, as raw JSON (Events API)."""
        found: list[dict[str, Any]] = []
        query: dict[str, Any] = {"limit": 100, **params}
        headers = {"Authorization": "Bearer sk_test_webhook_tests"}
        async with httpx.AsyncClient(base_url=self.emulator_url, timeout=10) as http:
            while True:
                response = await http.get("/v1/events", params=query, headers=headers)
                response.raise_for_status()
                page = response.json()
                found.extend(page["data"])
                if not page["has_more"]:
                    break
                query["starting_after"] = page["data"][-1]["id"]
        return list(reversed(found))

    async def settled(self, workspace_id: uuid.UUID, timeout: float = 20.0) -> None:
        """Wait until the emulator delivered everything and every handled event of the
        account is final in the ledger (completed, or ignored as not ours)."""
        await eventually(lambda: self.control_get("webhooks"), lambda s: s["idle"], timeout)
        ids = [e["id"] for e in await self.events() if e["type"] in HANDLED_EVENT_TYPES]

        async def completed_events() -> list[Any]:
            return await fetch_all(
                self.sessions,
                "SELECT id FROM stripe_webhook_events "
                "WHERE id = ANY(:ids) AND status IN ('completed', 'ignored')",
                ids=ids,
            )

        await eventually(completed_events, lambda rows: len(rows) == len(ids), timeout)

    async def control_get(self, path: str) -> Any:
        return await emulator_read(self.emulator_url, path)


@pytest_asyncio.fixture
async def shop(
    stripe_client: stripe.StripeClient,
    sessions: async_sessionmaker[AsyncSession],
    emulator_server: Any,
) -> Shop:
    await seed_plan_variants(sessions)
    return Shop(stripe_client, sessions, emulator_server.url)


def signed(
    event: dict[str, Any] | bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """A body and headers exactly as Stripe would deliver them."""
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    header = sign(body.decode(), secret, timestamp)
    return body, {"Stripe-Signature": header, "Content-Type": "application/json"}


async def workspace_state(
    sessions: async_sessionmaker[AsyncSession], workspace_id: uuid.UUID
) -> dict[str, Any]:
    """What a user (or support) would look at: plan, subscription rows, grants."""
    plan = await fetch_all(sessions, "SELECT plan FROM workspaces WHERE id = :w", w=workspace_id)
    rows = await fetch_all(
        sessions,
        "SELECT plan_slug, status, stripe_subscription_id, stripe_price_id, interval, "
        "cancel_at_period_end, grace_period_end, current_period_end FROM subscriptions "
        "WHERE workspace_id = :w ORDER BY created_at",
        w=workspace_id,
    )
    grants = await fetch_all(
        sessions,
        "SELECT grant_program_code, value FROM workspace_grants WHERE workspace_id = :w",
        w=workspace_id,
    )
    return {
        "plan": plan[0].plan,
        "rows": [r._asdict() for r in rows],
        "entitled": [r.plan_slug for r in rows if r.status in ("active", "trialing", "past_due")],
        "grants": {g.grant_program_code: g.value for g in grants},
    }
