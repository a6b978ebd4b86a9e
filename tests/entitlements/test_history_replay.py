"""Committed histories of the entitlement workflows replay on today's code; an edit that
changes the drainer's commands fails the replay.

Re-record after an intended, versioned change with:
`BILLING_RECORD_HISTORIES=1 .venv/bin/pytest tests/entitlements/test_history_replay.py`
(recorded through a plaintext client, so the committed files hold no ciphertext).
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import stripe
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import workflow
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from activities.deps import ActivityDeps
from core.config import Settings
from core.temporal_client import DATA_CONVERTER
from models.catalog_payloads import CatalogSyncInput
from models.entitlement_payloads import NoticeDrainInput, NoticeDrainResult, SweepInput
from tests.conftest import TEST_DATA_CONVERTER, create_workspace
from tests.entitlements.receiver import Receiver
from tests.entitlements.support import add_version, paid_row, refresh
from tests.support import execute, price_id
from worker import build_worker, workflow_runner
from workflows.catalog_sync import REDERIVE_PATCH, CatalogSyncWorkflow
from workflows.entitlement_notices import EntitlementNoticesWorkflow
from workflows.entitlement_sweep import EntitlementNoticeSweepWorkflow

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
NOTICES = HISTORIES / "entitlement_notices.json"
SWEEP = HISTORIES / "entitlement_notice_sweep.json"
CATALOG = HISTORIES / "catalog_sync_entitlements.json"
RECORDING = os.environ.get("BILLING_RECORD_HISTORIES") == "1"


def history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


@pytest.mark.parametrize(
    ("path", "workflow_class"),
    [
        (NOTICES, EntitlementNoticesWorkflow),
        (SWEEP, EntitlementNoticeSweepWorkflow),
        (CATALOG, CatalogSyncWorkflow),
    ],
    ids=["notices", "sweep", "catalog"],
)
async def test_committed_history_replays(path: Path, workflow_class: type) -> None:
    recorded = history(path)
    assert any(e.HasField("workflow_execution_completed_event_attributes") for e in recorded.events)
    replayer = Replayer(
        workflows=[workflow_class],
        data_converter=TEST_DATA_CONVERTER,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(recorded, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_the_histories_cover_a_retry_and_the_rederive() -> None:
    events = history(NOTICES).events
    attempts = [e for e in events if e.HasField("activity_task_scheduled_event_attributes")]
    # A refused attempt, the backoff timer, the delivery, and the idle check that ends it.
    assert len(attempts) == 3
    assert any(e.HasField("timer_started_event_attributes") for e in events)
    catalog = history(CATALOG)
    markers = [e for e in catalog.events if e.HasField("marker_recorded_event_attributes")]
    assert markers and REDERIVE_PATCH in str(markers[0])  # the patch, for older histories
    assert "entitlements.rederive_batch" in CATALOG.read_text()


@workflow.defn(name="EntitlementNoticesWorkflow")
class RestFirstNoticesWorkflow(EntitlementNoticesWorkflow):
    """A non-deterministic edit: the drainer waits before its first attempt."""

    @workflow.run
    async def run(self, data: NoticeDrainInput) -> NoticeDrainResult:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(data)


async def test_a_reordered_drainer_fails_the_committed_history() -> None:
    # Unsandboxed: the sandbox cannot re-import this test module; determinism checks still run.
    changed = Replayer(
        workflows=[RestFirstNoticesWorkflow],
        data_converter=TEST_DATA_CONVERTER,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    result = await changed.replay_workflow(history(NOTICES), raise_on_replay_failure=False)
    assert result.replay_failure is not None


def write(path: Path, recorded: WorkflowHistory) -> None:
    path.write_text(json.dumps(json.loads(recorded.to_json()), indent=1) + "\n")


@pytest.mark.skipif(not RECORDING, reason="records histories only when asked")
async def test_record_entitlement_histories(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    stripe_client: stripe.StripeClient,
    receiver: Receiver,
) -> None:
    plain = await Client.connect(
        temporal_env.client.service_client.config.target_host,
        namespace=temporal_env.client.namespace,
        data_converter=DATA_CONVERTER,
    )
    deps = ActivityDeps(settings=settings, sessions=sessions, stripe=stripe_client)
    queue = settings.temporal_task_queue
    async with build_worker(plain, settings, deps):
        # A notice the receiver refuses once, then takes.
        workspace_id, _ = await create_workspace(sessions)
        await refresh(sessions, workspace_id, {"seats": 2}, await paid_row(sessions, workspace_id))
        receiver.scripts[str(workspace_id)] = [500]
        drain = NoticeDrainInput(
            workspace_id=str(workspace_id), attempt_timeout_seconds=1, linger_seconds=0.5
        )
        handle = await plain.start_workflow(
            EntitlementNoticesWorkflow.run,
            drain,
            id=f"history-notices-{uuid.uuid4()}",
            task_queue=queue,
            start_signal="wake",
        )
        assert (await handle.result()).delivered == 1
        write(NOTICES, await handle.fetch_history())

        # A notice nobody attempted: the sweep wakes its drainer.
        lost, _ = await create_workspace(sessions)
        notice = await add_version(sessions, lost, 1)
        await execute(
            sessions,
            "UPDATE entitlement_notices SET next_attempt_at = now() - interval '5 minutes' "
            "WHERE id = :id",
            id=notice,
        )
        sweep = await plain.start_workflow(
            EntitlementNoticeSweepWorkflow.run,
            SweepInput(),
            id=f"history-sweep-{uuid.uuid4()}",
            task_queue=queue,
        )
        assert (await sweep.result()).woken >= 1
        write(SWEEP, await sweep.fetch_history())

        # A paid workspace on a synced price with no version yet: the sync re-derives it.
        stale, _ = await create_workspace(sessions)
        await execute(
            sessions,
            "INSERT INTO subscriptions (workspace_id, plan_slug, status, stripe_subscription_id, "
            "stripe_price_id, interval) VALUES (:w, 'pro', 'active', :s, :p, 'monthly')",
            w=stale,
            s=f"sub_h_{uuid.uuid4().hex[:10]}",
            p=price_id("pro"),
        )
        catalog = await plain.start_workflow(
            CatalogSyncWorkflow.run,
            CatalogSyncInput(reason="manual"),
            id=f"history-catalog-{uuid.uuid4()}",
            task_queue=queue,
        )
        summary: Any = await catalog.result()
        assert summary.entitlements_updated >= 1
        write(CATALOG, await catalog.fetch_history())
