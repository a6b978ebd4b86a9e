"""GraceDowngradeWorkflow: hourly, subscriptions whose grace ran out unpaid become non-entitled."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.grace import GraceActivities
    from models.schedule_payloads import GraceBatchInput, GraceInput, GraceResult


@workflow.defn(name="GraceDowngradeWorkflow")
class GraceDowngradeWorkflow:
    @workflow.run
    async def run(self, input: GraceInput | None = None) -> GraceResult:
        params = input or GraceInput()
        # The schedule's firing time, not the DB clock: deterministic and time-skippable.
        as_of = workflow.now()
        result = GraceResult()
        after: str | None = None
        for _ in range(params.max_batches):
            batch = await workflow.execute_activity_method(
                GraceActivities.downgrade_batch,
                GraceBatchInput(
                    batch_size=params.batch_size, as_of=as_of, after_subscription_id=after
                ),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=1),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
            for name in ("examined", "demoted", "cleared", "applied_from_stripe", "errors"):
                setattr(result, name, getattr(result, name) + getattr(batch, name))
            if not batch.has_more:
                break
            after = batch.last_subscription_id
        return result
