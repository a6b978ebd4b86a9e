"""Steps shared by CheckoutWorkflow and PortalWorkflow: customer validation, retry policies,
and turning a failure into the answer the API gives.

Business outcomes fail a workflow with ApplicationError(type=<API error code>), which the API
answers as they are; any Stripe failure left over becomes the route's 502 code.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.customers import CustomerActivities
    from core.constants import SA_STRIPE_CUSTOMER_ID
    from models.checkout_payloads import (
        PLAN_NOT_AVAILABLE,
        STRIPE_CHECKOUT_SESSION_FAILED,
        STRIPE_CUSTOMER_MISSING,
        STRIPE_PORTAL_SESSION_FAILED,
        STRIPE_PRICE_STALE,
        STRIPE_REQUEST_REFUSED,
        STRIPE_UNAVAILABLE,
        SUBSCRIPTION_ALREADY_ACTIVE,
        WORKSPACE_GONE,
        EnsureCustomerInput,
        EnsureCustomerResult,
    )
    from models.vocabulary import ErrorCode

STRIPE_FAILURES = (STRIPE_CUSTOMER_MISSING, STRIPE_PRICE_STALE, STRIPE_REQUEST_REFUSED,
                   STRIPE_UNAVAILABLE)
# Bounded: the caller is waiting; 5xx/429/network get 3 quick retries, then the API says 502.
STRIPE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=4,
    non_retryable_error_types=[
        STRIPE_CUSTOMER_MISSING,
        STRIPE_PRICE_STALE,
        STRIPE_REQUEST_REFUSED,
        WORKSPACE_GONE,
    ],
)
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=100),
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=5,
)
STEP_TIMEOUT = timedelta(seconds=10)


WORKSPACE_NOT_FOUND = ErrorCode.WORKSPACE_NOT_FOUND
ANSWER_CODES = (
    SUBSCRIPTION_ALREADY_ACTIVE,
    PLAN_NOT_AVAILABLE,
    STRIPE_CHECKOUT_SESSION_FAILED,
    STRIPE_PORTAL_SESSION_FAILED,
    WORKSPACE_NOT_FOUND,
)


def _root(err: BaseException) -> BaseException | None:
    # A local activity that gave up surfaces as ActivityError or as its bare cause.
    return err.cause if isinstance(err, ActivityError) else err


def failure_type(err: BaseException) -> str | None:
    cause = _root(err)
    return cause.type if isinstance(cause, ApplicationError) else None


def answer(code: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=code, non_retryable=True)


def as_answer(err: FailureError, failed_code: str) -> BaseException:
    """The workflow failure the API answers for `err`; `err` itself when it is one already."""
    kind = failure_type(err)
    if kind in ANSWER_CODES:
        root = _root(err)
        # An activity's answer (e.g. 409 found under the checkout lock) leaves as the
        # workflow's own failure, which the API reads.
        return err if root is err else answer(kind, str(getattr(root, "message", root)))
    if kind in STRIPE_FAILURES or isinstance(_root(err), TimeoutError):
        return answer(failed_code, f"stripe refused or failed the request ({kind or 'timeout'})")
    if kind == WORKSPACE_GONE:
        return answer(WORKSPACE_NOT_FOUND, "no such workspace")
    return err


def fail_as_answer(err: FailureError, failed_code: str) -> NoReturn:
    """Re-raise `err` as the answer the API gives for it."""
    mapped = as_answer(err, failed_code)
    if mapped is err:
        raise err
    raise mapped from err


async def ensure_customer(
    workspace_id: str,
    request_scope: str,
    stale_customer_id: str | None = None,
    *,
    tag: bool = True,
) -> EnsureCustomerResult:
    """Validate (or self-heal) the workspace's customer and, with `tag`, tag the execution
    with it (search attributes are stored in clear, outside the payload codec)."""
    result: EnsureCustomerResult = await workflow.execute_local_activity_method(
        CustomerActivities.ensure_customer,
        EnsureCustomerInput(
            workspace_id=workspace_id,
            request_scope=request_scope,
            stale_customer_id=stale_customer_id,
        ),
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=STRIPE_RETRY,
    )
    if tag:
        workflow.upsert_search_attributes(
            [SA_STRIPE_CUSTOMER_ID.value_set(result.stripe_customer_id)]
        )
    return result
