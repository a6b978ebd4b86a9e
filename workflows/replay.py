"""ReplayWorkflow (every 5 min): nothing Stripe sent, and nothing Stripe did, is ever lost.

1. Events API reconcile: handled events since the durable cursor that the ledger lacks are
   stored (`source='events_api'`) and their `stripe-event:{id}` workflows started.
2. Ledger sweep: pending rows nobody started, failed rows due again and stale `processing`
   claims are (re)started, in keyset batches of STRIPE_RETRY_BATCH_SIZE.
3. Object reconcile: live Stripe subscriptions compared with our rows; drift re-applied.
No single event or subscription fails a run: what could not be done is counted in the
result's `skipped` (by reason) and `skipped_ids`, recorded on the ledger row, and the next run
(or an operator, for `dead` rows) takes it from there.
Workflows are started by an activity through the worker's client (not child workflows): the
same id policies as the webhook route, and this history stays small whatever the backlog.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reconcile import ReconcileActivities
    from activities.replay import ReplayActivities
    from activities.replay_events import EventsReconcileActivities
    from models.schedule_payloads import (
        MAX_SKIPPED_IDS,
        SKIP_INVALID_EVENT,
        SKIP_RECONCILE_FAILED,
        SKIP_START_REFUSED,
        SKIP_TEMPORAL_UNAVAILABLE,
        DispatchInput,
        DueEventsInput,
        EventsReconcileInput,
        ObjectsReconcileInput,
        ReplayInput,
        ReplayResult,
    )

SHORT = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=10)
# Stripe calls can be slow under the rate limit; heartbeats prove progress, not the clock.
LISTING = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1), maximum_attempts=5
)


@workflow.defn(name="ReplayWorkflow")
class ReplayWorkflow:
    @workflow.run
    async def run(self, input: ReplayInput | None = None) -> ReplayResult:
        params = input or ReplayInput()
        result = ReplayResult()
        if params.reconcile_events:
            events = await workflow.execute_activity_method(
                EventsReconcileActivities.reconcile_events,
                EventsReconcileInput(),
                start_to_close_timeout=timedelta(minutes=20),
                heartbeat_timeout=timedelta(minutes=1),
                retry_policy=LISTING,
            )
            result.events_listed = events.listed
            result.events_inserted = events.inserted
            result.events_dispatched += events.dispatched
            result.cursor = events.cursor
            result.cursor_lag_seconds = events.cursor_lag_seconds
            result.events_dead += events.dead
            _skip(result, SKIP_INVALID_EVENT, events.invalid)
            _skip(result, SKIP_START_REFUSED, events.start_refused)
            _skip(result, SKIP_TEMPORAL_UNAVAILABLE, events.start_unavailable)
            _name(result, events.skipped_ids)
        await self._sweep(params, result)
        if params.reconcile_objects:
            objects = await workflow.execute_activity_method(
                ReconcileActivities.reconcile_objects,
                ObjectsReconcileInput(),
                start_to_close_timeout=timedelta(minutes=20),
                heartbeat_timeout=timedelta(minutes=1),
                retry_policy=LISTING,
            )
            result.subscriptions_checked = objects.checked
            result.mismatches = objects.mismatches
            result.mismatched_subscriptions = objects.mismatched_subscriptions
            _skip(result, SKIP_RECONCILE_FAILED, objects.failed)
            _name(result, objects.failed_subscriptions)
        return result

    async def _sweep(self, params: ReplayInput, result: ReplayResult) -> None:
        position = DueEventsInput(batch_size=params.batch_size)
        for _ in range(params.max_batches):
            due = await workflow.execute_activity_method(
                ReplayActivities.due_events,
                position,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=SHORT,
            )
            if due.events:
                dispatched = await workflow.execute_activity_method(
                    ReplayActivities.dispatch,
                    DispatchInput(events=due.events),
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=SHORT,
                )
                result.events_dispatched += dispatched.dispatched
                result.stale_claims += dispatched.stale_claims
                result.events_dead += dispatched.dead
                _skip(result, SKIP_START_REFUSED, dispatched.start_refused)
                _skip(result, SKIP_TEMPORAL_UNAVAILABLE, dispatched.start_unavailable)
                _name(result, dispatched.skipped_ids)
            if not due.has_more:
                return
            last = due.events[-1]
            position = DueEventsInput(
                batch_size=params.batch_size, after_received_at=last.received_at, after_id=last.id
            )


def _skip(result: ReplayResult, reason: str, count: int) -> None:
    if count:
        result.skipped[reason] = result.skipped.get(reason, 0) + count


def _name(result: ReplayResult, ids: list[str]) -> None:
    room = MAX_SKIPPED_IDS - len(result.skipped_ids)
    if room > 0:
        # Ids Temporal refused may be absurdly long: a prefix is enough to find the row.
        result.skipped_ids.extend(i[:200] for i in ids[:room])
