"""The nightly cleanup: finished webhook rows past retention and expired idempotency keys."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.cleanup import CleanupActivities
    from models.schedule_payloads import CleanupBatchInput, CleanupInput, CleanupResult


@workflow.defn(name="CleanupWorkflow")
class CleanupWorkflow:
    @workflow.run
    async def run(self, input: CleanupInput | None = None) -> CleanupResult:
        params = input or CleanupInput()
        result = CleanupResult()
        for _ in range(params.max_batches):
            batch = await workflow.execute_activity_method(
                CleanupActivities.delete_batch,
                CleanupBatchInput(
                    retention_days=params.retention_days, batch_size=params.batch_size
                ),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
            result.batches += 1
            result.webhook_events_deleted += batch.webhook_events_deleted
            result.idempotency_deleted += batch.idempotency_deleted
            if max(batch.webhook_events_deleted, batch.idempotency_deleted) < params.batch_size:
                break
        workflow.logger.info(
            "cleanup deleted %d webhook rows and %d idempotency keys",
            result.webhook_events_deleted,
            result.idempotency_deleted,
        )
        return result
