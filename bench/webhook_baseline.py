"""The bare workflow the webhook benchmark compares processing against, and its worker process.

`python -m bench.webhook_baseline QUEUE` serves it on QUEUE with the service's settings from
the environment (same Temporal address and payload encryption as `python worker.py`), so the
bare rate is measured with as many worker processes as the service had.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.worker import Worker


@activity.defn(name="bench.webhook_noop")
async def noop(value: int) -> int:
    return value


@workflow.defn(sandboxed=False)
class TwoLocalActivitiesWorkflow:
    """The floor under StripeEventWorkflow: claim + apply as local activities doing nothing."""

    @workflow.run
    async def run(self, value: int) -> int:
        for _ in range(2):
            value = await workflow.execute_local_activity(
                noop, value, start_to_close_timeout=timedelta(seconds=10)
            )
        return value


async def serve(queue: str) -> None:
    from core.config import get_settings
    from core.temporal_client import connect_temporal
    from worker import workflow_runner

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = await connect_temporal(get_settings())
    async with Worker(
        client,
        task_queue=queue,
        workflows=[TwoLocalActivitiesWorkflow],
        activities=[noop],
        workflow_runner=workflow_runner(),
        graceful_shutdown_timeout=timedelta(seconds=5),
    ):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
