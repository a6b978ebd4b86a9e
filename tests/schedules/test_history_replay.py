"""Committed ReplayWorkflow / CleanupWorkflow histories replay deterministically on today's code.

Re-record after an intentional, versioned change with:
`BILLING_RECORD_HISTORIES=1 .venv/bin/pytest tests/schedules/test_history_replay.py`
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from core.config import Settings
from models.schedule_payloads import CleanupInput, GraceInput, ReplayInput
from tests.conftest import TEST_DATA_CONVERTER
from tests.schedules.conftest import Store
from tests.schedules.reordered_replay import SweepFirstReplayWorkflow
from tests.support import execute
from worker import workflow_runner
from workflows.cleanup import CleanupWorkflow
from workflows.replay import ReplayWorkflow

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
REPLAY_HISTORY = HISTORIES / "replay_workflow.json"
CLEANUP_HISTORY = HISTORIES / "replay_cleanup_workflow.json"
GRACE_HISTORY = HISTORIES / "grace_downgrade_workflow.json"
RECORDING = os.environ.get("BILLING_RECORD_HISTORIES") == "1"


def replayer(*workflows: type) -> Replayer:
    return Replayer(
        workflows=list(workflows),
        data_converter=TEST_DATA_CONVERTER,
        workflow_runner=workflow_runner(),
    )


@pytest.mark.skipif(not RECORDING, reason="records histories only when asked")
async def test_record_histories(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    store: Store,
    live_api: str,
    billing_worker: Worker,
) -> None:
    await store.control("webhooks/pause")
    await store.purchase(await store.account())
    runs: list[tuple[str, Any, Path]] = [
        ("ReplayWorkflow", ReplayInput(), REPLAY_HISTORY),
        ("CleanupWorkflow", CleanupInput(), CLEANUP_HISTORY),
        ("GraceDowngradeWorkflow", GraceInput(), GRACE_HISTORY),
    ]
    for workflow_name, arg, path in runs:
        if workflow_name == "GraceDowngradeWorkflow":
            # The replayed purchase's grace ran out: the job re-checks it in Stripe.
            await execute(
                store.sessions,
                "UPDATE subscriptions SET grace_period_end = now() - interval '1 hour' "
                "WHERE stripe_subscription_id IS NOT NULL",
            )
        handle = await temporal_env.client.start_workflow(
            workflow_name,
            arg,
            id=f"history-{path.stem}-{uuid.uuid4()}",
            task_queue=settings.temporal_task_queue,
        )
        await handle.result()
        path.write_text((await handle.fetch_history()).to_json())


@pytest.mark.parametrize(
    ("path", "workflow_class"),
    [(REPLAY_HISTORY, ReplayWorkflow), (CLEANUP_HISTORY, CleanupWorkflow)],
)
async def test_committed_history_replays(path: Path, workflow_class: type) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    assert any(e.HasField("workflow_execution_completed_event_attributes") for e in history.events)
    result = await replayer(workflow_class).replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


async def test_a_reordered_replay_workflow_fails_the_committed_history() -> None:
    history = WorkflowHistory.from_json("reordered", REPLAY_HISTORY.read_text())
    outcome: Any = await replayer(SweepFirstReplayWorkflow).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert outcome.replay_failure is not None
