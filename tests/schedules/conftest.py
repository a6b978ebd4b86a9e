"""Helpers of the scheduled-job tests: buy through the emulator, run a job, read what users see."""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest_asyncio
import stripe
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError

from core.config import Settings
from core.schedules import job_specs
from tests.conftest import create_workspace, emulator_control, emulator_read
from tests.support import execute, price_id
from tests.support import fetch_all as rows

T = TypeVar("T")
GRANTS = {"pro": {"seats": 5, "forms": 50}, "business": {"seats": 25, "forms": 100}}


@dataclass
class Account:
    """A workspace whose Stripe customer is mapped, as checkout leaves it."""

    workspace_id: uuid.UUID
    customer_id: str
    subscription_id: str | None = None


@dataclass
class Store:
    """The emulated Stripe account and our database, driven as a customer and Stripe would."""

    stripe: stripe.StripeClient
    sessions: async_sessionmaker[AsyncSession]
    emulator_url: str

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await emulator_control(self.emulator_url, path, body)

    async def account(self) -> Account:
        workspace_id, _ = await create_workspace(self.sessions)
        customer = await self.stripe.v1.customers.create_async(
            {"email": f"{workspace_id.hex[:8]}@example.com"}
        )
        await execute(
            self.sessions,
            "INSERT INTO workspace_billing_customers (workspace_id, stripe_customer_id) "
            "VALUES (:w, :c)",
            w=workspace_id,
            c=customer.id,
        )
        return Account(workspace_id, customer.id)

    async def purchase(self, account: Account, plan: str = "pro") -> str:
        """A hosted checkout created and paid in the emulator; the subscription id."""
        session = await self.stripe.v1.checkout.sessions.create_async(
            {
                "mode": "subscription",
                "customer": account.customer_id,
                "client_reference_id": str(account.workspace_id),
                "line_items": [{"price": price_id(plan), "quantity": 1}],
                "subscription_data": {"metadata": {"workspace_id": str(account.workspace_id)}},
                "success_url": "http://app.test/ok",
                "cancel_url": "http://app.test/cancel",
            }
        )
        done = await self.control(f"checkout/sessions/{session.id}/complete", {"outcome": "paid"})
        account.subscription_id = done["subscription"]
        return str(done["subscription"])

    async def update(self, subscription_id: str, **changes: Any) -> Any:
        return await self.control(f"subscriptions/{subscription_id}/update", changes)

    async def invoice(self, subscription_id: str, paid: bool) -> Any:
        return await self.control(f"subscriptions/{subscription_id}/invoice", {"paid": paid})

    async def events(self, types: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every event of the account (of `types`), oldest first."""
        found: list[dict[str, Any]] = []
        query: dict[str, Any] = {"limit": 100}
        if types:
            query["types"] = list(types)
        while True:
            page = await self.stripe.v1.events.list_async(query)  # type: ignore[arg-type]
            found.extend(e.to_dict(for_json=True) for e in page.data)
            if not page.has_more:
                return list(reversed(found))
            query["starting_after"] = page.data[-1].id

    async def webhooks(self) -> Any:
        return await emulator_read(self.emulator_url, "webhooks")


async def plan_of(sessions: async_sessionmaker[AsyncSession], workspace_id: uuid.UUID) -> str:
    found = await rows(sessions, "SELECT plan FROM workspaces WHERE id = :w", w=workspace_id)
    return str(found[0].plan)


async def subscription_row(sessions: async_sessionmaker[AsyncSession], stripe_id: str) -> Any:
    found = await rows(
        sessions,
        "SELECT status, plan_slug, stripe_price_id, cancel_at_period_end, grace_period_end, "
        "current_period_end FROM subscriptions WHERE stripe_subscription_id = :s",
        s=stripe_id,
    )
    return found[0] if found else None


async def seed_plan_variants(sessions: async_sessionmaker[AsyncSession]) -> None:
    """What catalog sync stores for env "test": price → plan, with merged grants."""
    for plan, grants in GRANTS.items():
        for interval in ("monthly", "yearly"):
            await execute(
                sessions,
                "INSERT INTO plan_variants (plan_slug, interval, currency, stripe_price_id, "
                "grants) VALUES (:p, :i, 'usd', :price, CAST(:g AS jsonb)) "
                "ON CONFLICT DO NOTHING",
                p=plan,
                i=interval,
                price=price_id(plan, interval),
                g=json.dumps(grants),
            )


async def forget_other_tests(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The DB is shared by the session: earlier tests' unfinished rows and live subscriptions
    name objects of an emulator since reset, which a sweep of everything would trip over."""
    await execute(
        sessions,
        "UPDATE stripe_webhook_events SET status = 'ignored', processed_at = now() "
        "WHERE status IN ('pending', 'processing', 'failed')",
    )
    await execute(
        sessions,
        "UPDATE subscriptions SET status = 'canceled' WHERE stripe_subscription_id IS NOT NULL "
        "AND status NOT IN ('canceled', 'incomplete_expired')",
    )


@pytest_asyncio.fixture
async def store(
    stripe_client: stripe.StripeClient,
    sessions: async_sessionmaker[AsyncSession],
    emulator_server: Any,
) -> Store:
    await seed_plan_variants(sessions)
    await forget_other_tests(sessions)
    return Store(stripe_client, sessions, emulator_server.url)


async def delete_schedules(client: Client, settings: Settings) -> None:
    for job in job_specs(settings):
        with contextlib.suppress(RPCError):  # absent is the goal
            await client.get_schedule_handle(job.schedule_id).delete()
