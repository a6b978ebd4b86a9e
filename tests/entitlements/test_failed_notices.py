"""A notice whose receiver never recovers within the retry window is marked failed and
alerted; an operator lists it and resends it (`billing entitlements notices|resend`)."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys

import pytest
from prometheus_client import REGISTRY
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from ops.entitlements import notices_command, resend_command
from tests.conftest import create_workspace
from tests.entitlements.conftest import Stack
from tests.support import eventually


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A window of about a second: the newest is given up quickly, as after 3 days.
    return settings.model_copy(update={"app_webhook_retry_window_hours": 1.5 / 3600})


def failed_total() -> float:
    return REGISTRY.get_sample_value("billing_entitlement_notices_failed_total") or 0.0


async def test_a_notice_failing_for_the_whole_window_is_marked_failed_and_can_be_resent(
    stack: Stack, temporal_env: WorkflowEnvironment
) -> None:
    workspace_id, _ = await create_workspace(stack.sessions)
    stack.receiver.scripts[str(workspace_id)] = [500] * 1000
    before = failed_total()
    await stack.buy_for(workspace_id)
    await stack.settled()
    notice_id = f"ent_{workspace_id}_1"

    async def notice_status() -> str:
        return str((await stack.notices(workspace_id))[0]["status"])

    await eventually(notice_status, lambda status: status == "failed", timeout=30)
    assert failed_total() == before + 1  # the alert
    out = io.StringIO()
    await notices_command(stack.settings, out, failed_only=True, workspace_id=workspace_id)
    assert notice_id in out.getvalue() and "last_error='HTTP 500'" in out.getvalue()

    # The operator's command line, as deployed: the same log through `billing`.
    listed = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "ops.cli",
            "entitlements",
            "notices",
            "--failed",
            "--workspace",
            str(workspace_id),
        ],
        env={**os.environ, **cli_env(stack.settings)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert notice_id in listed.stdout and " failed " in listed.stdout

    stack.receiver.scripts[str(workspace_id)] = []
    resent = io.StringIO()
    code = await resend_command(stack.settings, resent, notice_id, client=temporal_env.client)
    assert (code, resent.getvalue()) == (0, f"{notice_id} queued for delivery\n")
    await stack.delivered_version(workspace_id, 1)
    await eventually(notice_status, lambda status: status == "delivered", timeout=10)
    delivered = stack.receiver.delivered()
    assert [r.id for r in delivered if r.body["workspace_id"] == str(workspace_id)] == [notice_id]


def cli_env(settings: Settings) -> dict[str, str]:
    names = (
        "database_url",
        "auth_jwt_secret",
        "stripe_secret_key",
        "stripe_webhook_signing_secret",
        "checkout_success_url",
        "checkout_cancel_url",
        "billing_portal_return_url",
        "contact_sales_url",
        "temporal_address",
        "temporal_task_queue",
    )
    return {name.upper(): str(getattr(settings, name)) for name in names} | {
        "BILLING_ENV": "test",
        "LOG_JSON": "false",
    }
