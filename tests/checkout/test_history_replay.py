"""Committed CheckoutWorkflow histories replay deterministically against today's code.

Re-record after an intentional, versioned change with:
`BILLING_RECORD_HISTORIES=1 .venv/bin/pytest tests/checkout/test_history_replay.py`
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from activities.checkout import CheckoutActivities
from core.constants import checkout_workflow_id, portal_workflow_id
from models.checkout_payloads import CheckoutContextInput, CheckoutInput, CheckoutResult
from tests.checkout.conftest import Billing
from tests.checkout.test_price_drift import replace_pro_monthly
from tests.conftest import TEST_DATA_CONVERTER
from worker import workflow_runner
from workflows.checkout import CheckoutWorkflow

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
RECORDED = {
    "checkout_happy.json": "happy",
    "checkout_stale_price.json": "stale_price",
}


def replayer() -> Replayer:
    return Replayer(
        workflows=[CheckoutWorkflow],
        data_converter=TEST_DATA_CONVERTER,
        workflow_runner=workflow_runner(),
    )


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_committed_history_replays(name: str) -> None:
    path = HISTORIES / name
    history = WorkflowHistory.from_json(f"replay-{name}", path.read_text())
    assert any(e.HasField("workflow_execution_completed_event_attributes") for e in history.events)
    result = await replayer().replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


@workflow.defn(name="CheckoutWorkflow")
class ReorderedCheckoutWorkflow(CheckoutWorkflow):
    """A non-deterministic edit: the price is read before the customer is validated."""

    @workflow.run
    async def run(self, data: CheckoutInput) -> CheckoutResult:
        await workflow.execute_local_activity_method(
            CheckoutActivities.load_context,
            CheckoutContextInput(
                workspace_id=data.workspace_id, plan_slug=data.plan_slug, interval=data.interval
            ),
            start_to_close_timeout=timedelta(seconds=10),
        )
        return await super().run(data)


async def test_replay_detects_a_non_deterministic_change() -> None:
    history = WorkflowHistory.from_json("changed", (HISTORIES / "checkout_happy.json").read_text())
    # Unsandboxed: the sandbox cannot re-import this test module; determinism checks still run.
    changed = Replayer(
        workflows=[ReorderedCheckoutWorkflow],
        data_converter=TEST_DATA_CONVERTER,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    result = await changed.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None


@pytest.mark.skipif(not os.environ.get("BILLING_RECORD_HISTORIES"), reason="recording only")
@pytest.mark.parametrize("scenario", sorted(RECORDED.values()))
async def test_record_checkout_history(
    billing: Billing, temporal_env: WorkflowEnvironment, scenario: str
) -> None:
    workspace_id, user_id = await billing.workspace()
    if scenario == "stale_price":
        # Stripe refuses the synced price: one forced sync, then the retry succeeds.
        await replace_pro_monthly(billing, archive_old=True)
    key = uuid.uuid4()
    assert (await billing.checkout(workspace_id, user_id, key)).status_code == 200
    handle = temporal_env.client.get_workflow_handle(
        checkout_workflow_id(str(workspace_id), str(key))
    )
    history = await handle.fetch_history()
    name = next(file for file, kind in RECORDED.items() if kind == scenario)
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / name).write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")


@pytest.mark.skipif(not os.environ.get("BILLING_RECORD_HISTORIES"), reason="recording only")
async def test_record_portal_and_catalog_sync_histories(
    billing: Billing, temporal_env: WorkflowEnvironment
) -> None:
    workspace_id, user_id = await billing.workspace()
    request_id = str(uuid.uuid4())
    response = await billing.portal(workspace_id, user_id, headers={"X-Request-Id": request_id})
    assert response.status_code == 200, response.text
    await billing.sync_catalog()
    portal = temporal_env.client.get_workflow_handle(
        portal_workflow_id(str(workspace_id), request_id)
    )
    catalog = [
        execution
        async for execution in temporal_env.client.list_workflows(
            "WorkflowType = 'CatalogSyncWorkflow' AND ExecutionStatus = 'Completed'"
        )
    ][0]
    for name, handle in (
        ("portal_session.json", portal),
        ("catalog_sync.json", temporal_env.client.get_workflow_handle(catalog.id)),
    ):
        history = await handle.fetch_history()
        (HISTORIES / name).write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
