"""The nightly cleanup deletes only finished rows past retention and long-expired idempotency
keys; dead events and recently expired keys stay (an expired key keeps answering 422)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from models.schedule_payloads import CleanupInput
from tests.conftest import create_workspace
from tests.support import execute
from tests.support import fetch_all as rows
from workflows.cleanup import CleanupWorkflow


async def add_event(sessions: async_sessionmaker[AsyncSession], status: str, age_days: int) -> str:
    event_id = f"evt_cleanup_{uuid.uuid4().hex[:16]}"
    await execute(
        sessions,
        "INSERT INTO stripe_webhook_events (id, type, payload, status, source, received_at, "
        "processed_at) VALUES (:id, 'invoice.paid', '{}'::jsonb, CAST(:status AS text), "
        "'webhook', now() - make_interval(days => :age), "
        "CASE WHEN CAST(:status AS text) IN ('completed', 'ignored', 'dead') "
        "THEN now() - make_interval(days => :age) END)",
        id=event_id,
        status=status,
        age=age_days,
    )
    return event_id


async def add_key(
    sessions: async_sessionmaker[AsyncSession], workspace_id: uuid.UUID, expires_in_hours: int
) -> uuid.UUID:
    key = uuid.uuid4()
    await execute(
        sessions,
        "INSERT INTO stripe_checkout_idempotency (workspace_id, idempotency_key, request_hash, "
        "expires_at) VALUES (:w, :k, 'h', now() + make_interval(hours => :h))",
        w=workspace_id,
        k=key,
        h=expires_in_hours,
    )
    return key


async def test_cleanup_removes_old_finished_rows_and_keeps_the_rest(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    billing_worker: Worker,
) -> None:
    old_done = [await add_event(sessions, status, 40) for status in ("completed",) * 3]
    old_ignored = await add_event(sessions, "ignored", 31)
    kept = {
        "recent completed": await add_event(sessions, "completed", 5),
        "old failed": await add_event(sessions, "failed", 60),
        "old pending": await add_event(sessions, "pending", 60),
        "old processing": await add_event(sessions, "processing", 60),
        "old dead": await add_event(sessions, "dead", 60),
    }
    workspace_id, _ = await create_workspace(sessions)
    # STRIPE_IDEMPOTENCY_RETENTION_DAYS (7) after expiry, a key row goes; before, it stays.
    long_expired = [await add_key(sessions, workspace_id, -8 * 24) for _ in range(3)]
    recently_expired = await add_key(sessions, workspace_id, -6 * 24)
    fresh = await add_key(sessions, workspace_id, 20)

    # Batches of 2 make the workflow loop until a batch comes back short.
    result = await temporal_env.client.execute_workflow(
        CleanupWorkflow.run,
        CleanupInput(batch_size=2),
        id=f"cleanup-test-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
    )

    assert result.batches >= 2
    assert result.webhook_events_deleted >= 4
    assert result.idempotency_deleted >= 3
    left = {r.id for r in await rows(sessions, "SELECT id FROM stripe_webhook_events")}
    assert not left & {*old_done, old_ignored}
    assert set(kept.values()) <= left
    keys = {
        r.idempotency_key
        for r in await rows(
            sessions,
            "SELECT idempotency_key FROM stripe_checkout_idempotency WHERE workspace_id = :w",
            w=workspace_id,
        )
    }
    assert keys == {fresh, recently_expired}
    assert not keys & set(long_expired)
