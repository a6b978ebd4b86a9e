"""A committed CheckoutReconcileWorkflow history replays deterministically on today's code.

Re-record after an intentional, versioned change with:
`BILLING_RECORD_HISTORIES=1 .venv/bin/pytest tests/tracing/test_history_replay.py`
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from models.reconcile_payloads import (
    ACTIVITY_RECONCILE_CHECKOUT,
    CheckoutReconcileInput,
    CheckoutReconcileResult,
)
from tests.conftest import TEST_DATA_CONVERTER
from tests.support import eventually
from tests.tracing.conftest import System
from worker import workflow_runner
from workflows.checkout_reconcile import CheckoutReconcileWorkflow

HISTORY = Path(__file__).resolve().parent.parent / "histories" / "checkout_reconcile_confirmed.json"
RECORDING = os.environ.get("BILLING_RECORD_HISTORIES") == "1"


async def test_committed_history_replays() -> None:
    history = WorkflowHistory.from_json("checkout-reconcile", HISTORY.read_text())
    assert any(e.HasField("workflow_execution_completed_event_attributes") for e in history.events)
    replayer = Replayer(
        workflows=[CheckoutReconcileWorkflow],
        data_converter=TEST_DATA_CONVERTER,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


@workflow.defn(name="CheckoutReconcileWorkflow")
class TaglessCheckoutReconcileWorkflow:
    """A non-deterministic edit: the search attributes are no longer set before the activity."""

    @workflow.run
    async def run(self, data: CheckoutReconcileInput) -> CheckoutReconcileResult:
        return await workflow.execute_activity(
            ACTIVITY_RECONCILE_CHECKOUT,
            data,
            result_type=CheckoutReconcileResult,
            start_to_close_timeout=timedelta(seconds=60),
        )


async def test_replay_detects_a_non_deterministic_change() -> None:
    history = WorkflowHistory.from_json("changed", HISTORY.read_text())
    # Unsandboxed: the sandbox cannot re-import this test module; determinism checks still run.
    changed = Replayer(
        workflows=[TaglessCheckoutReconcileWorkflow],
        data_converter=TEST_DATA_CONVERTER,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    result = await changed.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None


@pytest.mark.skipif(not RECORDING, reason="records histories only when asked")
async def test_record_checkout_reconcile_history(system: System) -> None:
    workspace_id, owner = await system.workspace()
    await system.control("webhooks/pause")
    session = await system.checkout(workspace_id, owner)
    await system.complete(session["id"])

    async def status() -> str:
        response = await system.status(workspace_id, owner, session["id"])
        return str(response.json()["status"])

    assert await eventually(status, lambda s: s != "pending") == "confirmed"
    handle = system.temporal.get_workflow_handle(f"checkout-reconcile:{session['id']}")
    history = await handle.fetch_history()
    HISTORY.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
