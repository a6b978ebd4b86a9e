"""The Alembic schema: every table of DESIGN.md and the constraints that carry the invariants."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from tests.conftest import create_workspace

TABLES = {
    "workspaces",
    "workspace_members",
    "plan_variants",
    "subscriptions",
    "subscription_items",
    "workspace_grants",
    "workspace_billing_customers",
    "workspace_billing_customer_events",
    "stripe_webhook_events",
    "stripe_checkout_idempotency",
    "checkout_sessions",
    "billing_cursors",
    "alembic_version",
}


async def _insert_subscription(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    status: str,
    plan: str = "pro",
    stripe_id: str | None = None,
) -> None:
    await session.execute(
        text(
            "INSERT INTO subscriptions (workspace_id, plan_slug, status, stripe_subscription_id) "
            "VALUES (:w, :p, :s, :sid)"
        ),
        {"w": workspace_id, "p": plan, "s": status, "sid": stripe_id},
    )


async def test_migration_creates_every_table(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        assert TABLES <= {row[0] for row in rows}


async def test_main_app_inserts_with_only_the_named_columns(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    async with sessions() as session:
        plan = await session.execute(
            text("SELECT plan FROM workspaces WHERE id = :id"), {"id": workspace_id}
        )
        assert plan.scalar_one() == "free"


async def test_second_entitled_subscription_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    async with sessions() as session, session.begin():
        await _insert_subscription(session, workspace_id, "active", plan="free")
        await _insert_subscription(session, workspace_id, "canceled", stripe_id="sub_old")
        await _insert_subscription(session, workspace_id, "incomplete", stripe_id="sub_new")
    for status in ("active", "trialing", "past_due"):
        async with sessions() as session:
            with pytest.raises(IntegrityError, match="uq_subscriptions_one_entitled"):
                async with session.begin():
                    await _insert_subscription(session, workspace_id, status, stripe_id=None)


async def test_stripe_ids_and_mappings_are_unique(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, _ = await create_workspace(sessions)
    second, _ = await create_workspace(sessions)
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO workspace_billing_customers (workspace_id, stripe_customer_id) "
                "VALUES (:w, 'cus_unique_1')"
            ),
            {"w": first},
        )
        await session.execute(
            text(
                "INSERT INTO stripe_webhook_events (id, type, status, source) "
                "VALUES ('evt_unique_1', 'invoice.paid', 'pending', 'webhook')"
            )
        )
    refused = [
        (
            "INSERT INTO workspace_billing_customers (workspace_id, stripe_customer_id) "
            "VALUES (:w, 'cus_unique_1')",
            {"w": second},
        ),  # one workspace per customer
        (
            "INSERT INTO workspace_billing_customers (workspace_id, stripe_customer_id) "
            "VALUES (:w, 'cus_unique_2')",
            {"w": first},
        ),  # one customer per workspace
        (
            "INSERT INTO stripe_webhook_events (id, type, status, source) "
            "VALUES ('evt_unique_1', 'invoice.paid', 'pending', 'webhook')",
            {},
        ),
    ]
    for statement, params in refused:
        async with sessions() as session:
            with pytest.raises(IntegrityError):
                async with session.begin():
                    await session.execute(text(statement), params)


async def test_idempotency_keys_are_unique_per_workspace(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, _ = await create_workspace(sessions)
    second, _ = await create_workspace(sessions)
    key = uuid.uuid4()
    insert = text(
        "INSERT INTO stripe_checkout_idempotency (workspace_id, idempotency_key, request_hash, "
        "expires_at) VALUES (:w, :k, 'h', now() + interval '1 day')"
    )
    async with sessions() as session, session.begin():
        await session.execute(insert, {"w": first, "k": key})
        await session.execute(insert, {"w": second, "k": key})  # another workspace: allowed
    async with sessions() as session:
        with pytest.raises(IntegrityError):
            async with session.begin():
                await session.execute(insert, {"w": first, "k": key})
