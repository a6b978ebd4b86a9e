"""Prometheus metrics shared by the API and the worker, and the worker's metrics endpoints.

The webhook counters live with the pipeline (`activities/event_metrics.py`), the reconcile
mismatch counter with the reconcile job (`activities/reconcile.py`); this module adds the
latencies, the checkout reconcile outcomes and the scheduled-run outcomes (README "Metrics").
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Histogram, start_http_server
from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import FailureError
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 21600, 86400)

CHECKOUT_FINALIZE_SECONDS = Histogram(
    "billing_checkout_finalize_seconds",
    "Checkout session created (our row) until a webhook or reconcile confirmed it",
    buckets=LATENCY_BUCKETS,
)
EVENT_TO_PLAN_SECONDS = Histogram(
    "billing_event_to_plan_seconds",
    "Stripe event created until its effect on the workspace's plan was committed",
    ["event_type"],
    buckets=LATENCY_BUCKETS,
)
CHECKOUT_RECONCILES = Counter(
    "billing_checkout_reconcile",
    "Long-pending checkout sessions reconciled from Stripe, by what Stripe said",
    ["outcome"],
)
SCHEDULE_RUNS = Counter(
    "billing_schedule_runs",
    "Runs of workflows started by a Temporal Schedule, by schedule, workflow and outcome",
    ["schedule", "workflow", "outcome"],
)

# Set by Temporal on every workflow a schedule starts (a predefined search attribute).
SCHEDULED_BY_ID = SearchAttributeKey.for_keyword("TemporalScheduledById")


def observe_event_applied(event_type: str, event_created: int | None) -> None:
    """Event-to-plan latency: from Stripe's `created` to now (after the commit)."""
    if event_created is not None:
        EVENT_TO_PLAN_SECONDS.labels(event_type).observe(max(0.0, time.time() - event_created))


def observe_checkout_finalized(created_at: datetime, finalized_at: datetime) -> None:
    CHECKOUT_FINALIZE_SECONDS.observe(max(0.0, (finalized_at - created_at).total_seconds()))


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
