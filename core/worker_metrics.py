"""The worker's metrics endpoint and the interceptor that counts scheduled runs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server
from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import FailureError
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from core.metrics import SCHEDULE_RUNS

logger = logging.getLogger(__name__)

# Set by Temporal on every workflow a schedule starts (a predefined search attribute).
SCHEDULED_BY_ID = SearchAttributeKey.for_keyword("TemporalScheduledById")


class _ScheduledRunInbound(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        info = workflow.info()
        schedule = info.typed_search_attributes.get(SCHEDULED_BY_ID)
        if not schedule:
            return await super().execute_workflow(input)
        try:
            result = await super().execute_workflow(input)
        except FailureError:  # the run fails (other exceptions only fail a task, retried)
            _count_run(schedule, info.workflow_type, "failed")
            raise
        except asyncio.CancelledError:
            _count_run(schedule, info.workflow_type, "canceled")
            raise
        _count_run(schedule, info.workflow_type, "completed")
        return result


def _count_run(schedule: str, workflow_type: str, outcome: str) -> None:
    # A replay re-executes the end of a run that was already counted.
    if workflow.unsafe.is_replaying():
        return
    with workflow.unsafe.sandbox_unrestricted():
        SCHEDULE_RUNS.labels(schedule, workflow_type, outcome).inc()


class ScheduledRunMetrics(Interceptor):
    """Worker interceptor counting the outcome of every scheduled workflow run."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _ScheduledRunInbound


def serve_worker_metrics(port: int | None, host: str) -> WSGIServer | None:
    """Serve this process's default registry on host:port (a thread); None when unset."""
    if port is None:
        return None
    server, _ = start_http_server(port, addr=host)
    logger.info("worker metrics on http://%s:%d/metrics", host, port)
    return server
