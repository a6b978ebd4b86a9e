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

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities
    from activities.checkout import CheckoutActivities
    from core.constants import (
        SA_STRIPE_CHECKOUT_SESSION_ID,
        SA_WORKSPACE_ID,
    )
    from models.catalog_payloads import CatalogSyncInput
    from models.checkout_payloads import (
        PLAN_NOT_AVAILABLE,
        STRIPE_CHECKOUT_SESSION_FAILED,
        STRIPE_CUSTOMER_MISSING,
        STRIPE_PRICE_STALE,
        SUBSCRIPTION_ALREADY_ACTIVE,
        CheckoutContextInput,
        CheckoutContextResult,
        CheckoutInput,
        CheckoutResult,
        CreateCheckoutSessionInput,
        RecordCheckoutInput,
    )
    from workflows.steps import (
        DB_RETRY,
        STEP_TIMEOUT,
        STRIPE_RETRY,
        answer,
        ensure_customer,
        fail_as_answer,
        failure_type,
    )

SYNC_TIMEOUT = timedelta(seconds=30)
# The whole execution: long enough for every bounded retry, short enough to free the key.
CHECKOUT_EXECUTION_TIMEOUT = timedelta(seconds=60)


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
        context = await self._load_context(data)
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

    async def _load_context(self, data: CheckoutInput) -> CheckoutContextResult:
        """The workspace's price for the plan and whether a paid subscription is entitled."""
        result: CheckoutContextResult = await workflow.execute_local_activity_method(
            CheckoutActivities.load_context,
            CheckoutContextInput(
                workspace_id=data.workspace_id, plan_slug=data.plan_slug, interval=data.interval
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        return result

    async def _price_after_sync(self, data: CheckoutInput, refused: str | None) -> str:
        """Force one catalog sync; the plan is not for sale if it still has no other price."""
        await workflow.execute_local_activity_method(
            CatalogActivities.sync_catalog,
            CatalogSyncInput(reason="checkout"),
            start_to_close_timeout=SYNC_TIMEOUT,
            retry_policy=STRIPE_RETRY,
        )
        context = await self._load_context(data)
        price = context.stripe_price_id
        if price is None or price == refused:
            raise answer(
                PLAN_NOT_AVAILABLE,
                f"{data.plan_slug} {data.interval} has no price in the Stripe catalog",
            )
        return price
