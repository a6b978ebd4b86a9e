"""Replay: a webhook outage heals from the Events API, and unstarted or stuck ledger rows finish."""

from __future__ import annotations

import json
import uuid
from typing import Any

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from core.constants import HANDLED_EVENT_TYPES, event_workflow_id
from models.event_payloads import StripeEventInput, StripeEventResult
from models.schedule_payloads import ReplayInput, ReplayResult
from tests.schedules.conftest import Store, plan_of, subscription_row
from tests.support import eventually, execute, price_id
from tests.support import fetch_all as rows
from workflows.replay import ReplayWorkflow
from workflows.stripe_event import StripeEventWorkflow


async def run_replay(
    env: WorkflowEnvironment, settings: Settings, params: ReplayInput | None = None
) -> ReplayResult:
    return await env.client.execute_workflow(
        ReplayWorkflow.run,
        params or ReplayInput(),
        id=f"replay-test-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
    )


async def ledger(store: Store, ids: list[str]) -> dict[str, Any]:
    found = await rows(
        store.sessions,
        "SELECT id, status, attempts, source, last_error FROM stripe_webhook_events "
        "WHERE id = ANY(:ids)",
        ids=ids,
    )
    return {r.id: r for r in found}


async def all_completed(store: Store, ids: list[str]) -> dict[str, Any]:
    return await eventually(
        lambda: ledger(store, ids),
        lambda found: (
            len(found) == len(ids) and all(r.status == "completed" for r in found.values())
        ),
    )


async def test_webhook_outage_heals_within_one_replay_without_double_processing(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    store: Store,
    live_api: str,
    billing_worker: Worker,
) -> None:
    await store.control("webhooks/pause")
    stays_pro, upgrades, cancels = [await store.account() for _ in range(3)]
    pro_sub = await store.purchase(stays_pro)
    await store.update(pro_sub, cancel_at_period_end=True)
    up_sub = await store.purchase(upgrades)
    await store.update(up_sub, price=price_id("business"))
    await store.invoice(up_sub, paid=False)  # renewal fails: past_due, grace starts
    gone_sub = await store.purchase(cancels)
    await store.update(gone_sub, status="canceled")

    handled = [e["id"] for e in await store.events(HANDLED_EVENT_TYPES)]
    assert len(handled) >= 12
    assert (await store.webhooks())["backlog"] >= len(handled)  # nothing reached the API
    assert not await ledger(store, handled)

    first = await run_replay(temporal_env, settings)

    assert first.events_inserted == len(handled)
    assert first.cursor is not None and (first.cursor_lag_seconds or 0) < 60
    done = await all_completed(store, handled)
    assert {r.source for r in done.values()} == {"events_api"}
    assert {r.attempts for r in done.values()} == {1}
    assert await plan_of(store.sessions, stays_pro.workspace_id) == "pro"
    assert (await subscription_row(store.sessions, pro_sub)).cancel_at_period_end is True
    assert await plan_of(store.sessions, upgrades.workspace_id) == "business"
    upgraded = await subscription_row(store.sessions, up_sub)
    assert (upgraded.status, upgraded.grace_period_end is not None) == ("past_due", True)
    assert await plan_of(store.sessions, cancels.workspace_id) == "free"

    # The next period finds nothing new and nothing drifted; no event ran twice.
    second = await run_replay(temporal_env, settings)
    assert (second.events_inserted, second.events_dispatched, second.mismatches) == (0, 0, 0)
    assert second.subscriptions_checked >= 2  # the canceled one is no longer live
    again = await ledger(store, handled)
    assert {r.attempts for r in again.values()} == {1}


async def test_object_reconcile_fixes_a_change_stripe_never_announced(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    store: Store,
    live_api: str,
    billing_worker: Worker,
) -> None:
    account = await store.account()
    sub = await store.purchase(account)
    await all_completed(store, [e["id"] for e in await store.events(HANDLED_EVENT_TYPES)])
    assert await plan_of(store.sessions, account.workspace_id) == "pro"
    # Stripe "fails to create an event": our row says business monthly; Stripe says pro.
    await execute(
        store.sessions,
        "UPDATE subscriptions SET plan_slug = 'business', stripe_price_id = :p "
        "WHERE stripe_subscription_id = :s",
        p=price_id("business"),
        s=sub,
    )
    await execute(
        store.sessions,
        "UPDATE workspaces SET plan = 'business' WHERE id = :w",
        w=account.workspace_id,
    )

    result = await run_replay(temporal_env, settings, ReplayInput(reconcile_events=False))

    assert result.mismatches == 1 and result.mismatched_subscriptions == [sub]
    assert await plan_of(store.sessions, account.workspace_id) == "pro"
    assert (await subscription_row(store.sessions, sub)).stripe_price_id == price_id("pro")


async def insert_row(store: Store, event: dict[str, Any], status: str, **extra: Any) -> None:
    await execute(
        store.sessions,
        "INSERT INTO stripe_webhook_events (id, type, payload, status, attempts, source, "
        "received_at, processing_started_at, next_attempt_at) VALUES (:id, :type, "
        "CAST(:payload AS jsonb), :status, :attempts, 'webhook', now() - interval '2 minutes', "
        ":started, :next)",
        id=event["id"],
        type=event["type"],
        payload=json.dumps(event),
        status=status,
        attempts=extra.get("attempts", 0),
        started=extra.get("started"),
        next=extra.get("next"),
    )


async def test_unstarted_stuck_and_failed_rows_are_completed_by_the_next_replay(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    store: Store,
    billing_worker: Worker,
) -> None:
    account = await store.account()
    await store.purchase(account)  # no webhook endpoint: nothing is delivered
    events = await store.events(HANDLED_EVENT_TYPES)
    by_type = {e["type"]: e for e in events}
    crashed_before_start = by_type["checkout.session.completed"]
    crashed_claim = by_type["customer.subscription.created"]
    failed = by_type["invoice.paid"]

    # The route stored the event, then the process died before starting its workflow.
    await insert_row(store, crashed_before_start, "pending")
    # A worker claimed this one ten minutes ago and never came back (TTL is 300 s).
    await insert_row(store, crashed_claim, "processing", attempts=1)
    await execute(
        store.sessions,
        "UPDATE stripe_webhook_events SET processing_started_at = now() - interval '10 minutes' "
        "WHERE id = :id",
        id=crashed_claim["id"],
    )
    # Its workflow completed earlier, yet the ledger says failed: the retry must really run.
    await insert_row(store, failed, "completed", attempts=1)
    earlier = await temporal_env.client.execute_workflow(
        StripeEventWorkflow.run,
        StripeEventInput(event_id=failed["id"], event_type=failed["type"]),
        id=event_workflow_id(failed["id"]),
        task_queue=settings.temporal_task_queue,
    )
    assert earlier.outcome == "skipped"
    await execute(
        store.sessions,
        "UPDATE stripe_webhook_events SET status = 'failed', last_error = 'boom', "
        "next_attempt_at = now() - interval '1 second' WHERE id = :id",
        id=failed["id"],
    )

    result = await run_replay(
        temporal_env, settings, ReplayInput(reconcile_events=False, reconcile_objects=False)
    )

    assert result.events_dispatched == 3 and result.stale_claims == 1
    ids = [crashed_before_start["id"], crashed_claim["id"], failed["id"]]
    done = await all_completed(store, ids)
    assert {i: done[i].attempts for i in ids} == dict(zip(ids, (1, 2, 2), strict=True))
    assert await plan_of(store.sessions, account.workspace_id) == "pro"
    rerun = temporal_env.client.get_workflow_handle(
        event_workflow_id(failed["id"]), result_type=StripeEventResult
    )
    assert (await rerun.result()).outcome == "completed"


async def test_one_failing_subscription_never_fails_the_object_reconcile(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    store: Store,
    live_api: str,
    billing_worker: Worker,
) -> None:
    fixed, stuck = await store.account(), await store.account()
    subs = {account.workspace_id: await store.purchase(account) for account in (fixed, stuck)}
    await all_completed(store, [e["id"] for e in await store.events(HANDLED_EVENT_TYPES)])
    for sub in subs.values():  # both drift: our rows say business, Stripe says pro
        await execute(
            store.sessions,
            "UPDATE subscriptions SET plan_slug = 'business', stripe_price_id = :p "
            "WHERE stripe_subscription_id = :s",
            p=price_id("business"),
            s=sub,
        )
    # Stripe answers 500 for one of them, whatever the retries.
    stuck_sub = subs[stuck.workspace_id]
    fault = {"path": f"/v1/subscriptions/{stuck_sub}", "method": "GET", "mode": "500"}
    await store.control("config", {"api_faults": [{**fault, "count": 1000}]})

    result = await run_replay(temporal_env, settings, ReplayInput(reconcile_events=False))

    assert result.mismatched_subscriptions == [subs[fixed.workspace_id]]
    assert (result.skipped, result.skipped_ids) == ({"reconcile_failed": 1}, [stuck_sub])
    assert (await subscription_row(store.sessions, stuck_sub)).plan_slug == "business"
    # Stripe recovers: the next run heals the one left behind.
    await store.control("config", {"api_faults": []})
    healed = await run_replay(temporal_env, settings, ReplayInput(reconcile_events=False))
    assert (healed.mismatched_subscriptions, healed.skipped) == ([stuck_sub], {})
    assert (await subscription_row(store.sessions, stuck_sub)).plan_slug == "pro"
