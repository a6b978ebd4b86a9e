"""The bare two-activity workflow the replay benchmark compares against (sandbox-light)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench.noop")
async def noop(value: int) -> int:
    return value


@workflow.defn
class TwoActivityWorkflow:
    @workflow.run
    async def run(self, value: int) -> int:
        first = await workflow.execute_activity(
            noop, value, start_to_close_timeout=timedelta(seconds=30)
        )
        return await workflow.execute_activity(
            noop, first, start_to_close_timeout=timedelta(seconds=30)
        )
