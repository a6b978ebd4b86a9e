"""The bare workflow the checkout benchmark compares against: 4 local activities that do nothing.

A module of its own, light enough for the workflow sandbox to import, like CheckoutWorkflow's.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

CHECKOUT_LOCAL_ACTIVITIES = 4  # ensure customer, load context, create session, record


@activity.defn(name="bench.checkout_noop")
async def noop(value: int) -> int:
    return value


@workflow.defn
class FourLocalActivitiesWorkflow:
    @workflow.run
    async def run(self, value: int) -> int:
        for _ in range(CHECKOUT_LOCAL_ACTIVITIES):
            value = await workflow.execute_local_activity(
                noop, value, start_to_close_timeout=timedelta(seconds=10)
            )
        return value
