"""CheckoutWorkflow: one execution per `checkout:{workspace_id}:{idempotency_key}`.

Steps (all local activities, so the route answers within one or two workflow tasks):
validate or self-heal the workspace's Stripe customer → resolve the price from `plan_variants`
(missing or refused as stale: one forced catalog sync, then retry once) → refuse when a paid
subscription is entitled → create the Stripe Checkout session (a missing customer: remap and
retry once) → record the pending session and the idempotency answer.
Business outcomes fail the workflow with ApplicationError(type=<API error code>), which the
API answers as they are; a failed execution may be re-run with the same key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities
    from activities.checkout import CheckoutActivities
    from activities.customers import WORKSPACE_GONE, CustomerActivities
    from core.constants import (
        SA_STRIPE_CHECKOUT_SESSION_ID,
        SA_STRIPE_CUSTOMER_ID,
        SA_WORKSPACE_ID,
    )
    from models.catalog_payloads import CatalogSyncInput
    from models.checkout_payloads import (
        PLAN_NOT_AVAILABLE,
        STRIPE_CHECKOUT_SESSION_FAILED,
        STRIPE_CUSTOMER_MISSING,
        STRIPE_PORTAL_SESSION_FAILED,
        STRIPE_PRICE_STALE,
        STRIPE_REQUEST_REFUSED,
        STRIPE_UNAVAILABLE,
        SUBSCRIPTION_ALREADY_ACTIVE,
        CheckoutContextInput,
        CheckoutInput,
        CheckoutResult,
        CreateCheckoutSessionInput,
        EnsureCustomerInput,
        EnsureCustomerResult,
        RecordCheckoutInput,
    )

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
SYNC_TIMEOUT = timedelta(seconds=30)
# The whole execution: long enough for every bounded retry, short enough to free the key.
CHECKOUT_EXECUTION_TIMEOUT = timedelta(seconds=60)


WORKSPACE_NOT_FOUND = "WORKSPACE_NOT_FOUND"
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
        return err
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
    workspace_id: str, request_scope: str, stale_customer_id: str | None = None
) -> EnsureCustomerResult:
    """Validate (or self-heal) the workspace's customer and tag the execution with it."""
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
    workflow.upsert_search_attributes([SA_STRIPE_CUSTOMER_ID.value_set(result.stripe_customer_id)])
    return result


@workflow.defn(name="CheckoutWorkflow")
class CheckoutWorkflow:
    @workflow.run
    async def run(self, data: CheckoutInput) -> CheckoutResult:
        workflow.upsert_search_attributes([SA_WORKSPACE_ID.value_set(data.workspace_id)])
        try:
            return await self._checkout(data)
        except FailureError as err:
            fail_as_answer(err, STRIPE_CHECKOUT_SESSION_FAILED)

    async def _checkout(self, data: CheckoutInput) -> CheckoutResult:
        validated = await ensure_customer(data.workspace_id, data.idempotency_key)
        customer = validated.stripe_customer_id
        context = await workflow.execute_local_activity_method(
            CheckoutActivities.load_context,
            CheckoutContextInput(
                workspace_id=data.workspace_id, plan_slug=data.plan_slug, interval=data.interval
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        if context.has_paid_subscription:
            raise answer(
                SUBSCRIPTION_ALREADY_ACTIVE,
                "the workspace already has a paid subscription; manage it in the billing portal",
            )
        price = context.stripe_price_id
        synced = price is None
        if price is None:
            price = await self._price_after_sync(data, refused=None)
        customer_retried = False
        while True:
            try:
                session = await workflow.execute_local_activity_method(
                    CheckoutActivities.create_session,
                    CreateCheckoutSessionInput(
                        workspace_id=data.workspace_id,
                        idempotency_key=data.idempotency_key,
                        stripe_customer_id=customer,
                        stripe_price_id=price,
                        plan_slug=data.plan_slug,
                        interval=data.interval,
                    ),
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=STRIPE_RETRY,
                )
                break
            except FailureError as err:
                kind = failure_type(err)
                if kind == STRIPE_CUSTOMER_MISSING and not customer_retried:
                    customer_retried = True
                    remapped = await ensure_customer(
                        data.workspace_id, data.idempotency_key, stale_customer_id=customer
                    )
                    customer = remapped.stripe_customer_id
                elif kind == STRIPE_PRICE_STALE and not synced:
                    synced = True
                    price = await self._price_after_sync(data, refused=price)
                else:
                    raise
        workflow.upsert_search_attributes([SA_STRIPE_CHECKOUT_SESSION_ID.value_set(session.id)])
        await workflow.execute_local_activity_method(
            CheckoutActivities.record,
            RecordCheckoutInput(
                workspace_id=data.workspace_id,
                idempotency_key=data.idempotency_key,
                user_id=data.user_id,
                request_hash=data.request_hash,
                plan_slug=data.plan_slug,
                interval=data.interval,
                stripe_customer_id=customer,
                stripe_price_id=price,
                session=session,
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        return CheckoutResult(
            id=session.id,
            url=session.url,
            expires_at=session.expires_at,
            request_hash=data.request_hash,
            stripe_customer_id=customer,
        )

    async def _price_after_sync(self, data: CheckoutInput, refused: str | None) -> str:
        """Force one catalog sync; the plan is not for sale if it still has no other price."""
        await workflow.execute_local_activity_method(
            CatalogActivities.sync_catalog,
            CatalogSyncInput(reason="checkout"),
            start_to_close_timeout=SYNC_TIMEOUT,
            retry_policy=STRIPE_RETRY,
        )
        context = await workflow.execute_local_activity_method(
            CheckoutActivities.load_context,
            CheckoutContextInput(
                workspace_id=data.workspace_id, plan_slug=data.plan_slug, interval=data.interval
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        price = context.stripe_price_id
        if price is None or price == refused:
            raise answer(
                PLAN_NOT_AVAILABLE,
                f"{data.plan_slug} {data.interval} has no price in the Stripe catalog",
            )
        return price
