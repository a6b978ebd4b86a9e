"""Schedule registration at worker start, its idempotence, and the `billing schedules` command."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

from temporalio.client import ScheduleActionExecutionStartWorkflow, ScheduleOverlapPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from core.constants import (
    SCHEDULE_CATALOG_SYNC,
    SCHEDULE_CLEANUP,
    SCHEDULE_ENTITLEMENT_NOTICES,
    SCHEDULE_GRACE,
    SCHEDULE_REPLAY,
)
from core.schedules import describe_schedules, schedules_command
from models.schedule_payloads import CleanupResult
from tests.schedules.conftest import delete_schedules
from tests.support import eventually
from worker import run_worker

ALL = (
    SCHEDULE_REPLAY,
    SCHEDULE_GRACE,
    SCHEDULE_CATALOG_SYNC,
    SCHEDULE_CLEANUP,
    SCHEDULE_ENTITLEMENT_NOTICES,
)


async def start_and_stop_worker(settings: Settings, env: WorkflowEnvironment) -> None:
    """`billing worker` as deployed: connect, register schedules, serve; then SIGTERM."""
    stop = asyncio.Event()
    serving = asyncio.create_task(run_worker(settings, stop))
    await eventually(
        lambda: describe_schedules(env.client),
        lambda found: all(s.exists and s.workflow for s in found) or serving.done(),
        timeout=20,
    )
    stop.set()
    await serving


def summary(found: list[Any]) -> dict[str, Any]:
    return {s.schedule_id: s for s in found}


async def test_worker_start_creates_then_updates_the_schedules(
    settings: Settings, temporal_env: WorkflowEnvironment
) -> None:
    await delete_schedules(temporal_env.client, settings)
    try:
        await start_and_stop_worker(settings, temporal_env)
        first = summary(await describe_schedules(temporal_env.client))
        assert {k: (v.spec, v.workflow, v.paused) for k, v in first.items()} == {
            SCHEDULE_REPLAY: ("*/5 * * * *", "ReplayWorkflow", False),
            SCHEDULE_GRACE: ("0 * * * *", "GraceDowngradeWorkflow", False),
            SCHEDULE_CATALOG_SYNC: ("*/15 * * * *", "CatalogSyncWorkflow", False),
            SCHEDULE_CLEANUP: ("30 2 * * *", "CleanupWorkflow", False),
            # No APP_WEBHOOK_URL: nothing to sweep, so its schedule waits paused.
            SCHEDULE_ENTITLEMENT_NOTICES: ("* * * * *", "EntitlementNoticeSweepWorkflow", True),
        }
        assert {v.overlap for v in first.values()} == {ScheduleOverlapPolicy.SKIP.name}
        replay_next = first[SCHEDULE_REPLAY].next_runs
        assert replay_next and all(t.minute % 5 == 0 for t in replay_next)
        desc = await temporal_env.client.get_schedule_handle(SCHEDULE_REPLAY).describe()
        assert desc.schedule.policy.catchup_window == timedelta(minutes=10)

        # A second start with other settings updates in place; catalog off pauses its job.
        changed = settings.model_copy(
            update={
                "stripe_replay_cron": "*/10 * * * *",
                "stripe_catalog_sync_enabled": False,
                "app_webhook_url": "http://app.test/entitlements",
                "app_webhook_secret": "whsec-app-test",
            }
        )
        await start_and_stop_worker(changed, temporal_env)
        second = summary(await describe_schedules(temporal_env.client))
        assert second[SCHEDULE_REPLAY].spec == "*/10 * * * *"
        assert second[SCHEDULE_CATALOG_SYNC].paused
        assert "STRIPE_CATALOG_SYNC_ENABLED" in (second[SCHEDULE_CATALOG_SYNC].note or "")
        assert not second[SCHEDULE_GRACE].paused
        assert not second[SCHEDULE_ENTITLEMENT_NOTICES].paused
        assert "APP_WEBHOOK_URL" in (first[SCHEDULE_ENTITLEMENT_NOTICES].note or "")
        ids = [s.id async for s in await temporal_env.client.list_schedules()]
        assert sorted(i for i in ids if i in ALL) == sorted(set(ids) & set(ALL))

        out = io.StringIO()
        assert await schedules_command(changed, out, client=temporal_env.client) == 0
        lines = out.getvalue().splitlines()
        assert [line.split()[0] for line in lines] == list(ALL)
        assert "paused" in lines[2] and "next=20" in lines[0]
    finally:
        await delete_schedules(temporal_env.client, settings)


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
        "stripe_api_base",
    )
    values = {name.upper(): str(getattr(settings, name)) for name in names}
    return {**os.environ, **values, "BILLING_ENV": "test", "LOG_JSON": "false"}


async def test_cli_lists_schedules_and_triggers_cleanup_now(
    settings: Settings, temporal_env: WorkflowEnvironment, billing_worker: Worker
) -> None:
    from core.schedules import ensure_schedules
    from workflows.registry import WORKFLOWS

    await delete_schedules(temporal_env.client, settings)
    try:
        await ensure_schedules(temporal_env.client, settings, {w.__name__ for w in WORKFLOWS})
        command = [sys.executable, "-m", "ops.cli", "schedules"]
        listed = await asyncio.to_thread(
            subprocess.run,
            command,
            env=cli_env(settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        assert "billing-replay" in listed.stdout and "cron='*/5 * * * *'" in listed.stdout
        assert listed.stdout.count("active") == 4

        triggered = await asyncio.to_thread(
            subprocess.run,
            [*command, "--trigger", SCHEDULE_CLEANUP],
            env=cli_env(settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert triggered.returncode == 0, triggered.stderr
        assert f"triggered {SCHEDULE_CLEANUP}" in triggered.stdout
        handle = temporal_env.client.get_schedule_handle(SCHEDULE_CLEANUP)
        desc = await eventually(handle.describe, lambda d: bool(d.info.recent_actions))
        action = desc.info.recent_actions[0].action
        assert isinstance(action, ScheduleActionExecutionStartWorkflow)
        run = temporal_env.client.get_workflow_handle(action.workflow_id, result_type=CleanupResult)
        result = await asyncio.wait_for(run.result(), timeout=30)
        assert result.batches >= 1

        unknown = await asyncio.to_thread(
            subprocess.run,
            [*command, "--trigger", "nope"],
            env=cli_env(settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert unknown.returncode == 2 and "unknown schedule" in unknown.stdout
    finally:
        await delete_schedules(temporal_env.client, settings)
