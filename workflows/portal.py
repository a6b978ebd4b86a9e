"""PortalWorkflow: one execution per `portal:{workspace_id}:{request_id}`.

Validates or self-heals the workspace's Stripe customer, then creates the Billing Portal
session; a session refused for a missing customer remaps the customer and retries once.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.portal import PortalActivities
    from core.constants import SA_WORKSPACE_ID
    from models.checkout_payloads import (
        STRIPE_CUSTOMER_MISSING,
        STRIPE_PORTAL_SESSION_FAILED,
        CreatePortalSessionInput,
        PortalInput,
        PortalResult,
        PortalSessionCreated,
    )
    from workflows.steps import (
        STEP_TIMEOUT,
        STRIPE_RETRY,
        ensure_customer,
        fail_as_answer,
        failure_type,
    )


UNTAGGED_CUSTOMER_PATCH = "portal-customer-not-a-search-attribute"


@workflow.defn(name="PortalWorkflow")
class PortalWorkflow:
    @workflow.run
    async def run(self, data: PortalInput) -> PortalResult:
        workflow.upsert_search_attributes([SA_WORKSPACE_ID.value_set(data.workspace_id)])
        try:
            return await self._portal(data)
        except FailureError as err:
            fail_as_answer(err, STRIPE_PORTAL_SESSION_FAILED)

    async def _portal(self, data: PortalInput) -> PortalResult:
        # Search attributes bypass the payload codec: a portal history keeps its customer
        # encrypted (the workspace id still finds it). Old histories replay with the tag.
        tag = not workflow.patched(UNTAGGED_CUSTOMER_PATCH)
        ensured = await ensure_customer(data.workspace_id, data.request_id, tag=tag)
        customer = ensured.stripe_customer_id
        try:
            session = await self._create(customer)
        except FailureError as err:
            if failure_type(err) != STRIPE_CUSTOMER_MISSING:
                raise
            remapped = await ensure_customer(
                data.workspace_id, data.request_id, stale_customer_id=customer, tag=tag
            )
            customer = remapped.stripe_customer_id
            session = await self._create(customer)
        return PortalResult(url=session.url, stripe_customer_id=customer)

    async def _create(self, customer: str) -> PortalSessionCreated:
        return await workflow.execute_local_activity_method(
            PortalActivities.create_session,
            CreatePortalSessionInput(stripe_customer_id=customer),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STRIPE_RETRY,
        )
