"""Rows for rule-level entitlement tests: a paid subscription, versions, notices."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import transaction
from rules.entitlements import committed_versions
from rules.locks import lock_workspace
from rules.plans import PlanRef
from rules.subscription_state import refresh_entitlements


async def paid_row(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: uuid.UUID,
    *,
    status: str = "active",
    cancel_at_period_end: bool = False,
    period_end: datetime | None = None,
    grace_end: datetime | None = None,
) -> str:
    """An entitled paid subscription row on a price of its own (no catalog row); its price."""
    price = f"price_t_{uuid.uuid4().hex[:12]}"
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO subscriptions (workspace_id, plan_slug, status, "
                "stripe_subscription_id, stripe_price_id, interval, cancel_at_period_end, "
                "current_period_end, grace_period_end) VALUES (:w, 'pro', :s, :sub, :p, "
                "'monthly', :cape, :end, :grace)"
            ),
            {
                "w": workspace_id,
                "s": status,
                "sub": f"sub_t_{uuid.uuid4().hex[:12]}",
                "p": price,
                "cape": cancel_at_period_end,
                "end": period_end,
                "grace": grace_end,
            },
        )
    return price


async def refresh(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: uuid.UUID,
    grants: dict[str, Any] | None = None,
    price: str | None = None,
    cause: str = "evt_test",
) -> list[int]:
    """`refresh_entitlements` in a transaction of its own, as every writer runs it; the
    versions it committed."""
    known: dict[str | None, PlanRef] | None = (
        {price: PlanRef("pro", "monthly", grants or {})} if price else None
    )
    async with transaction(sessions) as session:
        assert await lock_workspace(session, workspace_id)
        await refresh_entitlements(session, workspace_id, known, cause=cause)
    return [change.version for change in committed_versions(session)]


async def add_version(
    sessions: async_sessionmaker[AsyncSession], workspace_id: uuid.UUID, version: int
) -> str:
    """A version and its pending notice, written as the snapshot writer would; its id."""
    notice = f"ent_{workspace_id}_{version}"
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO workspace_entitlements (workspace_id, version, previous_version, "
                "plan, status, grants, cause) VALUES (:w, :v, :p, 'pro', 'active', "
                "CAST(:g AS jsonb), 'test')"
            ),
            {
                "w": workspace_id,
                "v": version,
                "p": version - 1 or None,
                "g": json.dumps({"v": version}),
            },
        )
        await session.execute(
            text(
                "INSERT INTO entitlement_notices (id, workspace_id, version) VALUES (:id, :w, :v)"
            ),
            {"id": notice, "w": workspace_id, "v": version},
        )
    return notice
