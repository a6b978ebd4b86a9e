"""The snapshot writer: one version per change of content, in the change's own transaction,
with its outbox row and a NOTIFY; nothing for a change that changes nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import transaction
from ops.postgres import libpq_url
from rules.entitlements import CHANNEL, validity
from rules.locks import lock_workspace
from rules.subscription_state import (
    ensure_free_subscription,
    refresh_entitlements,
    set_grace_from_invoice,
)
from tests.conftest import create_workspace
from tests.entitlements.support import paid_row, refresh
from tests.support import execute, fetch_all

NOW = datetime(2027, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=30)
GRACE = NOW + timedelta(days=7)


@pytest.mark.parametrize(
    ("paid", "cape", "grace", "expected"),
    [
        (False, False, None, (None, False)),  # the free plan
        (True, False, None, (None, False)),  # renewing
        (True, True, None, (LATER, False)),  # cancels at the period end
        (True, False, GRACE, (GRACE, True)),  # a failed payment in grace
        (True, True, GRACE, (GRACE, True)),  # both: the earlier end
        (False, True, GRACE, (None, False)),  # a free row never ends
    ],
)
def test_effective_until_follows_the_contract(
    paid: bool, cape: bool, grace: datetime | None, expected: tuple[datetime | None, bool]
) -> None:
    assert (
        validity(
            paid=paid, cancel_at_period_end=cape, current_period_end=LATER, grace_period_end=grace
        )
        == expected
    )


async def versions(
    sessions: async_sessionmaker[AsyncSession], w: uuid.UUID
) -> list[dict[str, object]]:
    rows = await fetch_all(
        sessions,
        "SELECT * FROM workspace_entitlements WHERE workspace_id = :w ORDER BY version",
        w=w,
    )
    return [row._asdict() for row in rows]


async def test_a_change_writes_one_version_its_notice_and_a_notify(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    price = await paid_row(sessions, workspace_id)
    async with await psycopg.AsyncConnection.connect(
        libpq_url(database_url), autocommit=True
    ) as listener:
        await listener.execute(f"LISTEN {CHANNEL}")
        assert await refresh(sessions, workspace_id, {"seats": 3}, price) == [1]
        heard = [
            json.loads(n.payload)
            async for n in listener.notifies(timeout=5, stop_after=1)
            if json.loads(n.payload)["workspace_id"] == str(workspace_id)
        ]
    assert heard == [{"workspace_id": str(workspace_id), "version": 1}]
    [first] = await versions(sessions, workspace_id)
    assert (first["plan"], first["interval"], first["status"]) == ("pro", "monthly", "active")
    assert first["grants"] == {"seats": 3} and first["previous_version"] is None
    assert (first["effective_until"], first["in_grace"], first["cause"]) == (
        None,
        False,
        "evt_test",
    )
    notices = await fetch_all(
        sessions,
        "SELECT id, status, attempts FROM entitlement_notices WHERE workspace_id = :w",
        w=workspace_id,
    )
    assert [tuple(n) for n in notices] == [(f"ent_{workspace_id}_1", "pending", 0)]

    # The same rows again: no new version; another grant value: version 2, after 1.
    assert await refresh(sessions, workspace_id, {"seats": 3}, price) == []
    assert await refresh(sessions, workspace_id, {"seats": 4}, price, cause="reconcile") == [2]
    second = (await versions(sessions, workspace_id))[-1]
    assert (second["version"], second["previous_version"], second["cause"]) == (2, 1, "reconcile")


async def test_a_grace_starting_and_ending_is_a_version_each(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    price = await paid_row(sessions, workspace_id, status="past_due")
    await refresh(sessions, workspace_id, {"seats": 3}, price)
    [sub] = await fetch_all(
        sessions,
        "SELECT stripe_subscription_id FROM subscriptions WHERE workspace_id = :w",
        w=workspace_id,
    )
    failing = {"status": "open", "attempted": True, "amount_remaining": 2000}
    for invoice, expected_grace in ((failing, True), ({"status": "paid"}, False)):
        async with transaction(sessions) as session:
            assert await lock_workspace(session, workspace_id)
            await set_grace_from_invoice(session, sub.stripe_subscription_id, invoice, 7)
        latest = (await versions(sessions, workspace_id))[-1]
        assert latest["in_grace"] is expected_grace
        assert (latest["effective_until"] is not None) is expected_grace
    assert [v["version"] for v in await versions(sessions, workspace_id)] == [1, 2, 3]


async def test_a_rolled_back_change_leaves_no_version(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    price = await paid_row(sessions, workspace_id)
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            await lock_workspace(session, workspace_id)
            await refresh_entitlements(session, workspace_id, None, cause="evt_x")
            raise RuntimeError("the apply failed after the refresh")
    assert await versions(sessions, workspace_id) == []
    assert await refresh(sessions, workspace_id, {"a": 1}, price) == [1]


async def test_the_free_plan_is_version_zero_until_something_changes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    async with transaction(sessions) as session:
        await lock_workspace(session, workspace_id)
        await ensure_free_subscription(session, workspace_id)
        await refresh_entitlements(session, workspace_id, cause="evt_free")
    # Free is what a workspace without a version already reads as: nothing to tell anyone.
    assert await versions(sessions, workspace_id) == []

    await execute(
        sessions,
        "UPDATE subscriptions SET status = 'canceled' WHERE workspace_id = :w",
        w=workspace_id,
    )
    price = await paid_row(sessions, workspace_id)
    assert await refresh(sessions, workspace_id, {"seats": 1}, price) == [1]
    await execute(
        sessions,
        "UPDATE subscriptions SET status = 'canceled' WHERE stripe_price_id = :p",
        p=price,
    )
    async with transaction(sessions) as session:
        await lock_workspace(session, workspace_id)
        await ensure_free_subscription(session, workspace_id)
        await refresh_entitlements(session, workspace_id, cause="evt_cancel")
    back = (await versions(sessions, workspace_id))[-1]
    assert (back["version"], back["plan"], back["grants"], back["interval"]) == (
        2,
        "free",
        {},
        None,
    )
