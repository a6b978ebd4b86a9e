"""EntitlementNoticeSweepWorkflow: every minute, wake the drainer of any notice left waiting."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.entitlement_notices import EntitlementNoticeActivities
    from models.entitlement_payloads import NOTICE_SWEEP_WORKFLOW, SweepInput, SweepResult


@workflow.defn(name=NOTICE_SWEEP_WORKFLOW)
class EntitlementNoticeSweepWorkflow:
    @workflow.run
    async def run(self, data: SweepInput | None = None) -> SweepResult:
        # Input optional: the `billing-entitlement-notices` schedule starts it without one.
        return await workflow.execute_activity_method(
            EntitlementNoticeActivities.sweep_notices,
            data or SweepInput(),
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5),
        )
