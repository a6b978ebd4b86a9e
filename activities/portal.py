"""Portal activity: create the Stripe Billing Portal session for a validated customer."""

from __future__ import annotations

import stripe
from stripe.params.billing_portal import SessionCreateParams
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.checkout_errors import stripe_failure
from activities.deps import ActivityDeps
from activities.stripe_gateway import shared_gateway
from models.checkout_payloads import (
    STRIPE_REQUEST_REFUSED,
    CreatePortalSessionInput,
    PortalSessionCreated,
)


class PortalActivities:
    """The Stripe step of PortalWorkflow (run as a local activity)."""

    def __init__(self, deps: ActivityDeps) -> None:
        self._settings = deps.settings
        self._stripe = deps.stripe
        self._limiter = shared_gateway(deps).bucket  # the worker's one Stripe rate limiter

    @activity.defn(name="portal.create_session")
    async def create_session(self, data: CreatePortalSessionInput) -> PortalSessionCreated:
        params: SessionCreateParams = {
            "customer": data.stripe_customer_id,
            "return_url": self._settings.billing_portal_return_url,
        }
        if self._settings.stripe_billing_portal_configuration_id:
            params["configuration"] = self._settings.stripe_billing_portal_configuration_id
        await self._limiter.acquire()
        try:
            # No idempotency key: a portal session is a short-lived link, and a retry that
            # makes a second one harms nothing.
            session = await self._stripe.v1.billing_portal.sessions.create_async(params)
        except stripe.StripeError as exc:
            raise stripe_failure(exc, "billing_portal.sessions.create") from None
        if not session.url:
            raise ApplicationError(
                "stripe answered a portal session without url",
                type=STRIPE_REQUEST_REFUSED,
                non_retryable=True,
            )
        return PortalSessionCreated(url=session.url)
