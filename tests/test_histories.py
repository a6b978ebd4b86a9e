"""Every workflow the worker serves has a committed history, and every history replays.

Replayed with the worker's own registry, runner and data converter, so a change that breaks
determinism of any workflow fails CI. Re-record after an intended, versioned change with
`BILLING_RECORD_HISTORIES=1 .venv/bin/pytest tests -k record`.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.conftest import TEST_DATA_CONVERTER
from worker import workflow_runner
from workflows.registry import WORKFLOWS

HISTORIES = sorted((Path(__file__).resolve().parent / "histories").glob("*.json"))


def _history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def _workflow_type(history: WorkflowHistory) -> str:
    started = history.events[0].workflow_execution_started_event_attributes
    return str(started.workflow_type.name)


def test_every_served_workflow_has_a_committed_history() -> None:
    recorded = {_workflow_type(_history(path)) for path in HISTORIES}
    # The SDK keeps a class's definition on it; its name is the type recorded in histories.
    served = {str(workflow._Definition.must_from_class(cls).name) for cls in WORKFLOWS}
    assert served <= recorded, f"no committed history for {sorted(served - recorded)}"


def test_committed_histories_are_plaintext_so_the_codec_passes_them_through() -> None:
    # Recorded before payload encryption: their replays below go through the test codec
    # (TEST_DATA_CONVERTER), which must hand unencrypted payloads on untouched.
    encrypted, plain = (base64.b64encode(e).decode() for e in (b"binary/encrypted", b"json/plain"))
    for path in HISTORIES:
        text = path.read_text()  # metadata values are base64 in a history's JSON
        assert encrypted not in text and plain in text, path.name


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_committed_history_replays_on_the_worker_registry(path: Path) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=TEST_DATA_CONVERTER, workflow_runner=workflow_runner()
    )
    result = await replayer.replay_workflow(_history(path), raise_on_replay_failure=True)
    assert result.replay_failure is None
