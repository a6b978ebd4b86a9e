"""Log lines are JSON with the billing context (workflow, event, workspace, request ids) and
never carry a secret: a whole purchase is run with the process logging as in production."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio import activity, workflow

from core.config import Settings
from core.logging import configure_logging
from core.tokens import mint_token
from tests.conftest import ADMIN_TOKEN, JWT_SECRET
from tests.support import eventually
from tests.tracing.conftest import System

QUIETED = ("httpx", "httpcore", "stripe", "temporalio.worker")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger configured as `billing api` / `billing worker` do, at DEBUG, into memory."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quieted = {name: logging.getLogger(name).level for name in QUIETED}
    flags = (workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message)
    configure_logging("DEBUG", json_lines=True)
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, previous in quieted.items():
        logging.getLogger(name).setLevel(previous)
    workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message = flags


async def test_a_purchase_logs_context_and_no_secret(
    system: System, settings: Settings, captured: io.StringIO
) -> None:
    workspace_id, owner = await system.workspace()
    token = mint_token(JWT_SECRET, owner)
    await system.control("webhooks/pause")
    session = await system.checkout(workspace_id, owner)
    await system.complete(session["id"])

    async def status() -> str:
        response = await system.status(workspace_id, owner, session["id"])
        return str(response.json()["status"])

    assert await eventually(status, lambda s: s != "pending") == "confirmed"
    await system.control("webhooks/resume")
    await system.settled()
    trace = await system.http.get(
        f"/api/v1/stripe/workspaces/{workspace_id}/trace",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert trace.status_code == 200
    # Whatever a future code path logs by mistake, configured secrets never reach the output.
    logging.getLogger("billing.test").warning(
        "headers: Authorization=Bearer %s admin=%s key=%s",
        token,
        ADMIN_TOKEN,
        settings.stripe_secret_key,
    )

    output = captured.getvalue()
    lines: list[dict[str, Any]] = [json.loads(line) for line in output.splitlines()]
    secrets = {
        "stripe key": settings.stripe_secret_key,
        "webhook secret": settings.stripe_webhook_signing_secret,
        "jwt secret": settings.auth_jwt_secret,
        "admin token": ADMIN_TOKEN,
        "bearer token": token,
    }
    for name, secret in secrets.items():
        assert secret not in output, f"the {name} reached the logs"
    assert lines[-1]["msg"].count("[REDACTED]") == 3

    reconcile_id = f"checkout-reconcile:{session['id']}"
    # A line logged inside an activity carries the workflow, activity and workspace ids.
    [activity_line] = [
        line
        for line in lines
        if line.get("workflow_id") == reconcile_id and "reconciled from Stripe" in line["msg"]
    ]
    assert activity_line["activity_type"] == "checkout_reconcile.reconcile_session"
    assert activity_line["workspace_id"] == str(workspace_id)
    # The event pipeline's own Temporal lines name the event they process.
    assert any(
        line.get("event_id") and line["workflow_id"] == f"stripe-event:{line['event_id']}"
        for line in lines
    )
    # Workflow payloads (customer objects, sessions) are not dumped, even at DEBUG.
    assert not [
        line
        for line in lines
        if line["logger"].startswith("temporalio.worker") and line["level"] == "debug"
    ]
    [workflow_line] = [
        line
        for line in lines
        if line.get("workflow_type") == "CheckoutReconcileWorkflow" and line.get("run_id")
    ]
    assert workflow_line["workflow_id"] == reconcile_id
    assert "{" not in workflow_line["msg"]  # details are fields, not a suffix of the message
