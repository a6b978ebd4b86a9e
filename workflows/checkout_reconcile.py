"""CheckoutReconcileWorkflow: `checkout-reconcile:{session_id}`, a long-pending checkout
finalized from Stripe's own view when its webhook is late or lost (seed 000 recovery).

Started by the status route the return page polls; one activity reads the session from Stripe
and applies it exactly as `checkout.session.completed` would. Search attributes tie it to the
purchase: WorkspaceId and StripeCheckoutSessionId at start, customer and subscription once known.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from activities.checkout_reconcile import CheckoutReconcileActivities
    from core.constants import (
        SA_STRIPE_CHECKOUT_SESSION_ID,
        SA_STRIPE_CUSTOMER_ID,
        SA_STRIPE_SUBSCRIPTION_ID,
        SA_WORKSPACE_ID,
    )
    from models.event_payloads import PLAN_NOT_RESOLVED, WORKSPACE_NOT_RESOLVED
    from models.reconcile_payloads import (
        CHECKOUT_SESSION_UNKNOWN,
        CheckoutReconcileInput,
        CheckoutReconcileResult,
    )

# Stripe 5xx/429/network and DB errors back off; 4xx and unknown sessions fail at once.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=6,
    non_retryable_error_types=[CHECKOUT_SESSION_UNKNOWN, WORKSPACE_NOT_RESOLVED, PLAN_NOT_RESOLVED],
)
# Bounded, so a stuck run frees its id for the next poll's re-check.
RECONCILE_EXECUTION_TIMEOUT = timedelta(minutes=5)


@workflow.defn(name="CheckoutReconcileWorkflow")
class CheckoutReconcileWorkflow:
    @workflow.run
    async def run(self, data: CheckoutReconcileInput) -> CheckoutReconcileResult:
        workflow.upsert_search_attributes(
            [
                SA_WORKSPACE_ID.value_set(data.workspace_id),
                SA_STRIPE_CHECKOUT_SESSION_ID.value_set(data.checkout_session_id),
            ]
        )
        result = await workflow.execute_activity_method(
            CheckoutReconcileActivities.reconcile_session,
            data,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RETRY,
        )
        updates: list[SearchAttributeUpdate] = []
        if result.stripe_customer_id:
            updates.append(SA_STRIPE_CUSTOMER_ID.value_set(result.stripe_customer_id))
        if result.stripe_subscription_id:
            updates.append(SA_STRIPE_SUBSCRIPTION_ID.value_set(result.stripe_subscription_id))
        if updates:
            workflow.upsert_search_attributes(updates)
        workflow.logger.info(
            "checkout session %s is %s", data.checkout_session_id, result.status
        )
        return result
