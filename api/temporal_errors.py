"""Runs a workflow for a request and maps every Temporal outcome to an HTTP answer, in one place.

- A workflow that failed with ApplicationError(type=<API error code>) answers that code.
- Temporal unreachable (a failed lazy connect, RPC UNAVAILABLE, DEADLINE_EXCEEDED, ...), an
  execution that timed out, was terminated or failed unexpectedly: 503 BILLING_UNAVAILABLE.
  Every route that uses this is safe to retry with the same key.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.types import MethodAsyncSingleParam, ParamType, ReturnType, SelfType

from api.db import within_deadline
from api.errors import ApiError
from models.vocabulary import ErrorCode

logger = logging.getLogger(__name__)

# Workflow failure types that are answers of the contract (DESIGN.md), with their status.
ANSWERED_TYPES = {
    ErrorCode.SUBSCRIPTION_ALREADY_ACTIVE: 409,
    ErrorCode.PLAN_NOT_AVAILABLE: 422,
    ErrorCode.STRIPE_CHECKOUT_SESSION_FAILED: 502,
    ErrorCode.STRIPE_PORTAL_SESSION_FAILED: 502,
    ErrorCode.WORKSPACE_NOT_FOUND: 404,
}
UNAVAILABLE_STATUSES = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.UNKNOWN,
    }
)


def billing_unavailable() -> ApiError:
    return ApiError(
        503,
        ErrorCode.BILLING_UNAVAILABLE,
        "billing is temporarily unavailable; retry the same request (same Idempotency-Key)",
        {"Retry-After": "1"},
    )


def failure_answer(exc: WorkflowFailureError) -> ApiError:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type in ANSWERED_TYPES:
        code = ErrorCode(cause.type)
        return ApiError(ANSWERED_TYPES[code], code, cause.message)
    logger.error(
        "workflow failed without a defined answer: %s %s",
        type(cause).__name__,
        getattr(cause, "type", None),
    )
    return billing_unavailable()


async def run_workflow(
    client: Client,
    run: MethodAsyncSingleParam[SelfType, ParamType, ReturnType],
    arg: ParamType,
    *,
    workflow_id: str,
    task_queue: str,
    id_reuse_policy: WorkflowIDReusePolicy,
    execution_timeout: timedelta,
    wait_seconds: float | None = None,
) -> ReturnType:
    """Start (or join, for a running duplicate) the execution of `workflow_id`; its result.

    Concurrent duplicates share one execution (USE_EXISTING). A closed execution that the
    reuse policy keeps is joined too: its result is the answer.
    """
    try:
        try:
            handle = await client.start_workflow(
                run,
                arg,
                id=workflow_id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=id_reuse_policy,
                execution_timeout=execution_timeout,
            )
        except WorkflowAlreadyStartedError:
            handle = client.get_workflow_handle_for(run, workflow_id)
        if wait_seconds is None:
            return await handle.result()
        # The caller waits this long at most: a workflow slowed by Stripe answers 503 (retry
        # with the same key joins the same execution) instead of holding the request open.
        return await within_deadline(handle.result(), wait_seconds)
    except TimeoutError:
        logger.warning("workflow %s still running after %.1fs", workflow_id, wait_seconds)
        raise billing_unavailable() from None
    except WorkflowFailureError as exc:
        raise failure_answer(exc) from None
    except RPCError as exc:
        if exc.status in UNAVAILABLE_STATUSES:
            logger.warning("temporal unavailable: %s", exc.status.name)
        else:  # still ours to answer: a defined 503, never a 500
            logger.error("temporal refused the request: %s", exc.status.name)
        raise billing_unavailable() from None
    except RuntimeError as exc:
        # temporalio raises a bare RuntimeError when a lazy client cannot connect.
        if type(exc) is not RuntimeError:
            raise
        logger.warning("temporal unreachable: client connect failed")
        raise billing_unavailable() from None
