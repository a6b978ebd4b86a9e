"""`StripeEventWorkflow`: one Stripe event, claimed, applied from fresh Stripe state, recorded.

Lean by design (seed 002 §6–§7 on Temporal): one local activity claims the row and applies
the event inside the first workflow task, so an event usually costs one workflow task. The
ledger row, not Temporal's retention, is the dedupe of record: the claim skips an event
already completed.
Retryable failures (Stripe 5xx/429/network, DB errors) back off; a final failure marks the
row `failed` with its error and fails the workflow, which a later start may re-run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.stripe_events import StripeEventActivities
    from core.constants import (
        SA_STRIPE_CUSTOMER_ID,
        SA_STRIPE_SUBSCRIPTION_ID,
        SA_WORKSPACE_ID,
    )
    from models.event_payloads import (
        STRIPE_EVENT_FAILED,
        ApplyEventInput,
        ClaimEventInput,
        FailEventInput,
        StripeEventInput,
        StripeEventResult,
    )

# Transient failures back off up to a minute apart; ~5 minutes in all, then the row is
# marked failed and left to the replay schedule.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=9,
)
DB_TIMEOUT = timedelta(seconds=15)
# A Stripe read or two plus one transaction; generous for a slow Stripe.
APPLY_TIMEOUT = timedelta(seconds=60)
# Runs started since this patch claim and apply in one local activity (one claim round trip,
# one activity's overhead); older histories replay the two-activity path.
ONE_ACTIVITY_PATCH = "stripe-event-one-activity"


# Unsandboxed: the sandbox costs a fresh module namespace per run, a large share of a
# one-task workflow's CPU; this code is deterministic by construction (no I/O, time, random).
@workflow.defn(name="StripeEventWorkflow", sandboxed=False)
class StripeEventWorkflow:
    @workflow.run
    async def run(self, data: StripeEventInput) -> StripeEventResult:
        if not workflow.patched(ONE_ACTIVITY_PATCH):
            return await self._claim_then_apply(data)
        try:
            done = await workflow.execute_local_activity_method(
                StripeEventActivities.process_event,
                data,
                start_to_close_timeout=APPLY_TIMEOUT,
                retry_policy=RETRY,
            )
        except FailureError as err:  # local activities fail with the cause itself
            await self._give_up(data, err)
        if not done.proceed:
            return StripeEventResult(event_id=data.event_id, outcome="skipped")
        applied = done.applied
        self._upsert(
            applied.stripe_customer_id or done.hints.customer_id,
            applied.stripe_subscription_id or done.hints.subscription_id,
            applied.workspace_id,
        )
        return StripeEventResult(
            event_id=data.event_id,
            outcome="completed",
            workspace_id=applied.workspace_id,
            plan=applied.plan,
        )

    async def _claim_then_apply(self, data: StripeEventInput) -> StripeEventResult:
        """Runs started before ONE_ACTIVITY_PATCH: claim and apply as two local activities."""
        try:
            claim = await workflow.execute_local_activity_method(
                StripeEventActivities.claim_event,
                ClaimEventInput(event_id=data.event_id),
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=RETRY,
            )
        except FailureError as err:  # local activities fail with the cause itself
            await self._give_up(data, err)
        if not claim.proceed:
            return StripeEventResult(event_id=data.event_id, outcome="skipped")
        self._upsert(claim.hints.customer_id, claim.hints.subscription_id, None)
        try:
            applied = await workflow.execute_local_activity_method(
                StripeEventActivities.apply_event,
                ApplyEventInput(
                    event_id=data.event_id, event_type=claim.event_type, hints=claim.hints
                ),
                start_to_close_timeout=APPLY_TIMEOUT,
                retry_policy=RETRY,
            )
        except FailureError as err:  # local activities fail with the cause itself
            await self._give_up(data, err)
        self._upsert(
            applied.stripe_customer_id, applied.stripe_subscription_id, applied.workspace_id
        )
        return StripeEventResult(
            event_id=data.event_id,
            outcome="completed",
            workspace_id=applied.workspace_id,
            plan=applied.plan,
        )

    def _upsert(
        self, customer_id: str | None, subscription_id: str | None, workspace_id: str | None
    ) -> None:
        """Search attributes as soon as known: one Temporal query finds a purchase's events."""
        current = workflow.info().typed_search_attributes
        updates: list[SearchAttributeUpdate] = []
        for key, value in (
            (SA_STRIPE_CUSTOMER_ID, customer_id),
            (SA_STRIPE_SUBSCRIPTION_ID, subscription_id),
            (SA_WORKSPACE_ID, workspace_id),
        ):
            if value and current.get(key) != value:
                updates.append(key.value_set(value))
        if updates:
            workflow.upsert_search_attributes(updates)

    async def _give_up(self, data: StripeEventInput, err: FailureError) -> NoReturn:
        cause = err.cause if isinstance(err, ActivityError) and err.cause is not None else err
        kind = cause.type if isinstance(cause, ApplicationError) else type(cause).__name__
        error = f"{kind}: {cause}"
        await workflow.execute_local_activity_method(
            StripeEventActivities.fail_event,
            FailEventInput(event_id=data.event_id, event_type=data.event_type, error=error),
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=RETRY,
        )
        raise ApplicationError(
            f"event {data.event_id} failed: {error}", type=STRIPE_EVENT_FAILED, non_retryable=True
        ) from err
