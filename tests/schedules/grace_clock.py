"""A test workflow that lets days pass (time-skipping server), then runs the grace downgrade."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.schedule_payloads import GraceInput, GraceResult
    from workflows.grace import GraceDowngradeWorkflow


@workflow.defn
class GraceClockWorkflow:
    @workflow.run
    async def run(self, days: float) -> GraceResult:
        await workflow.sleep(timedelta(days=days))
        return await workflow.execute_child_workflow(
            GraceDowngradeWorkflow.run,
            GraceInput(),
            id=f"{workflow.info().workflow_id}-grace",
        )
