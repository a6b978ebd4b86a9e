"""The notice outbox's rules: newest only, one attempt at a time, doubling backoff, a window
after which the newest is marked failed, and resends that never go back in time."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import transaction
from models.entitlement_payloads import DeliverOutcome
from rules.notices import (
    Claim,
    NoClaim,
    NoticePolicy,
    ResendRefused,
    claim_newest,
    overdue_workspaces,
    record_delivered,
    record_failed,
    requeue,
)
from tests.conftest import create_workspace
from tests.entitlements.support import add_version
from tests.support import execute, fetch_all

POLICY = NoticePolicy(lease_seconds=30, initial_seconds=2, max_seconds=5, window_seconds=3600)


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: uuid.UUID,
    policy: NoticePolicy = POLICY,
) -> Claim | NoClaim:
    async with transaction(sessions) as session:
        return await claim_newest(session, workspace_id, policy)


async def statuses(
    sessions: async_sessionmaker[AsyncSession], workspace_id: uuid.UUID
) -> dict[int, str]:
    rows = await fetch_all(
        sessions,
        "SELECT version, status FROM entitlement_notices WHERE workspace_id = :w",
        w=workspace_id,
    )
    return {row.version: row.status for row in rows}


async def test_only_the_newest_is_sent_and_older_ones_are_superseded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    for version in (1, 2, 3):
        await add_version(sessions, workspace_id, version)
    claimed = await claim(sessions, workspace_id)
    assert isinstance(claimed, Claim) and claimed.version == 3
    body = json.loads(claimed.body)
    assert (
        body["id"] == f"ent_{workspace_id}_3" and body["type"] == "workspace.entitlements.updated"
    )
    assert (body["workspace_id"], body["version"], body["previous_version"]) == (
        str(workspace_id),
        3,
        2,
    )
    assert body["entitlements"]["grants"] == {"v": 3}
    assert await statuses(sessions, workspace_id) == {
        1: "superseded",
        2: "superseded",
        3: "pending",
    }

    # While the attempt holds the lease, no other attempt of this workspace starts.
    busy = await claim(sessions, workspace_id)
    assert isinstance(busy, NoClaim) and busy.outcome == DeliverOutcome.BUSY
    assert 0 < busy.retry_in_seconds <= POLICY.lease_seconds

    async with transaction(sessions) as session:
        recorded = await record_delivered(session, claimed, 204)
    assert recorded.outcome == DeliverOutcome.DELIVERED and recorded.lag_seconds is not None
    idle = await claim(sessions, workspace_id)
    assert isinstance(idle, NoClaim) and idle.outcome == DeliverOutcome.IDLE


async def test_failures_back_off_doubling_to_the_cap_then_the_window_fails_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    notice = await add_version(sessions, workspace_id, 1)
    waits = []
    for _ in range(3):
        await execute(
            sessions,
            "UPDATE entitlement_notices SET next_attempt_at = now() WHERE id = :id",
            id=notice,
        )
        claimed = await claim(sessions, workspace_id)
        assert isinstance(claimed, Claim)
        async with transaction(sessions) as session:
            recorded = await record_failed(session, claimed, POLICY, "HTTP 500", 500)
        assert recorded.outcome == DeliverOutcome.RETRY
        waits.append(round(recorded.retry_in_seconds))
        # Not due yet: the drainer is told how long to wait, and nothing is sent.
        early = await claim(sessions, workspace_id)
        assert isinstance(early, NoClaim) and early.outcome == DeliverOutcome.NOT_DUE
    assert waits == [2, 4, 5]
    [row] = await fetch_all(
        sessions,
        "SELECT attempts, last_error, last_http_status, status FROM entitlement_notices "
        "WHERE id = :id",
        id=notice,
    )
    assert tuple(row) == (3, "HTTP 500", 500, "pending")

    # The window ran out: the next failure marks it failed for an operator.
    await execute(
        sessions,
        "UPDATE entitlement_notices SET next_attempt_at = now(), "
        "window_started_at = now() - interval '2 hours' WHERE id = :id",
        id=notice,
    )
    claimed = await claim(sessions, workspace_id)
    assert isinstance(claimed, Claim)
    async with transaction(sessions) as session:
        recorded = await record_failed(session, claimed, POLICY, "no answer within 10s", None)
    assert recorded.outcome == DeliverOutcome.FAILED
    assert await statuses(sessions, workspace_id) == {1: "failed"}


async def test_an_expired_lease_lets_the_next_attempt_take_over(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    await add_version(sessions, workspace_id, 1)
    short = NoticePolicy(lease_seconds=0.001, initial_seconds=1, max_seconds=1, window_seconds=60)
    lost = await claim(sessions, workspace_id, short)
    assert isinstance(lost, Claim)
    await execute(sessions, "SELECT pg_sleep(0.01)")
    again = await claim(sessions, workspace_id, short)
    assert isinstance(again, Claim) and again.notice_id == lost.notice_id
    # The attempt whose lease ran out records nothing over the one that took over.
    async with transaction(sessions) as session:
        stale = await record_delivered(session, lost, 200)
    assert stale.outcome == DeliverOutcome.BUSY
    async with transaction(sessions) as session:
        assert (await record_delivered(session, again, 200)).outcome == DeliverOutcome.DELIVERED


async def test_a_resend_is_only_for_the_newest_and_never_follows_a_newer_delivery(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    first = await add_version(sessions, workspace_id, 1)
    second = await add_version(sessions, workspace_id, 2)
    async with transaction(sessions) as session:
        with pytest.raises(ResendRefused, match="superseded by version 2"):
            await requeue(session, first)
        with pytest.raises(ResendRefused, match="no notice"):
            await requeue(session, "ent_nope_1")
    await execute(
        sessions,
        "UPDATE entitlement_notices SET status = 'failed', attempts = 9 WHERE id = :id",
        id=second,
    )
    async with transaction(sessions) as session:
        assert await requeue(session, second) == workspace_id
    [row] = await fetch_all(
        sessions,
        "SELECT status, attempts, window_started_at > now() - interval '1 minute' AS fresh "
        "FROM entitlement_notices WHERE id = :id",
        id=second,
    )
    assert tuple(row) == ("pending", 9, True)

    # Even a pending older one (say, written back by hand) is never sent after a newer one.
    claimed = await claim(sessions, workspace_id)
    assert isinstance(claimed, Claim) and claimed.version == 2
    async with transaction(sessions) as session:
        await record_delivered(session, claimed, 200)
    await execute(
        sessions, "UPDATE entitlement_notices SET status = 'pending' WHERE id = :id", id=first
    )
    idle = await claim(sessions, workspace_id)
    assert isinstance(idle, NoClaim) and idle.outcome == DeliverOutcome.IDLE
    assert await statuses(sessions, workspace_id) == {1: "superseded", 2: "delivered"}


async def test_the_sweep_finds_due_notices_nobody_attempted(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    notice = await add_version(sessions, workspace_id, 1)
    async with sessions() as session:
        assert str(workspace_id) not in await overdue_workspaces(session, None, 1000, 30)
    await execute(
        sessions,
        "UPDATE entitlement_notices SET next_attempt_at = now() - interval '1 minute' "
        "WHERE id = :id",
        id=notice,
    )
    async with sessions() as session:
        assert str(workspace_id) in await overdue_workspaces(session, None, 1000, 30)
