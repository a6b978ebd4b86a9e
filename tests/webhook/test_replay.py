"""Committed histories of real event workflow runs replay with the current workflow code.

Re-record after an intended change of the workflow: `BILLING_RECORD_HISTORIES=1 .venv/bin/pytest
tests/webhook/test_replay.py`.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from core.constants import event_workflow_id
from tests.conftest import TEST_DATA_CONVERTER
from tests.support import plaintext_history_json
from tests.webhook.conftest import Shop, signed
from worker import workflow_runner
from workflows.stripe_event import StripeEventWorkflow

HISTORIES = Path(__file__).parents[1] / "histories"
# Runs from before the one-activity patch: claim and apply as two local activities.
CLAIM_THEN_APPLY = [
    HISTORIES / "stripe_event_subscription_updated.json",
    HISTORIES / "stripe_event_failed.json",
]
COMPLETED = HISTORIES / "stripe_event_processed.json"
FAILED = HISTORIES / "stripe_event_process_failed.json"

CODEC = TEST_DATA_CONVERTER.payload_codec


@pytest.mark.parametrize("path", [*CLAIM_THEN_APPLY, COMPLETED, FAILED], ids=lambda p: p.stem)
async def test_committed_history_replays(path: Path) -> None:
    replayer = Replayer(
        workflows=[StripeEventWorkflow],
        data_converter=TEST_DATA_CONVERTER,
        workflow_runner=workflow_runner(),
    )
    history = WorkflowHistory.from_json("stripe-event:recorded", path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None


@pytest.mark.skipif(not os.environ.get("BILLING_RECORD_HISTORIES"), reason="recording only")
async def test_record_histories(
    shop: Shop, live_api: str, billing_worker: Any, temporal_env: WorkflowEnvironment
) -> None:
    buyer = await shop.buyer()
    _, sub_id = await shop.checkout(buyer, "pro", "monthly")
    await shop.update(sub_id, status="past_due")
    await shop.settled(buyer.workspace_id)
    [updated] = [e for e in await shop.events() if e["type"] == "customer.subscription.updated"]
    handle = temporal_env.client.get_workflow_handle(event_workflow_id(updated["id"]))
    await handle.result()
    COMPLETED.write_text(await plaintext_history_json(handle, CODEC))

    missing_id = f"evt_record_{uuid.uuid4().hex[:12]}"
    missing: dict[str, Any] = {
        "id": missing_id,
        "type": "customer.subscription.updated",
        "created": int(time.time()),
        "data": {"object": {"id": "sub_does_not_exist", "object": "subscription"}},
    }
    async with httpx.AsyncClient(base_url=live_api) as http:
        body, headers = signed(missing)
        assert (await http.post("/api/v1/stripe/webhook", content=body, headers=headers)).is_success
    handle = temporal_env.client.get_workflow_handle(event_workflow_id(missing_id))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    FAILED.write_text(await plaintext_history_json(handle, CODEC))
