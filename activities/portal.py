"""Portal activity: create the Stripe Billing Portal session for a validated customer."""

from __future__ import annotations

from stripe.params.billing_portal import SessionCreateParams
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.failures import reported
from models.checkout_payloads import (
    STRIPE_REQUEST_REFUSED,
    CreatePortalSessionInput,
    PortalSessionCreated,
)


class PortalActivities:
    """The Stripe step of PortalWorkflow (run as a local activity)."""

    def __init__(self, deps: ActivityDeps) -> None:
        self._settings = deps.settings
        self._stripe = deps.gateway

    @activity.defn(name="portal.create_session")
    async def create_session(self, data: CreatePortalSessionInput) -> PortalSessionCreated:
        params: SessionCreateParams = {
            "customer": data.stripe_customer_id,
            "return_url": self._settings.billing_portal_return_url,
        }
        if self._settings.stripe_billing_portal_configuration_id:
            params["configuration"] = self._settings.stripe_billing_portal_configuration_id
        # No idempotency key: a portal session is a short-lived link, and a retry that
        # makes a second one harms nothing.
        with reported():
            session = await self._stripe.call(
                "billing_portal.sessions.create",
                self._stripe.client.v1.billing_portal.sessions.create_async(params),
            )
        if not session.url:
            raise ApplicationError(
                "stripe answered a portal session without url",
                type=STRIPE_REQUEST_REFUSED,
                non_retryable=True,
            )
        return PortalSessionCreated(url=session.url)
