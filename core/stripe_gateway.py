"""Rate-limited Stripe reads for the event activities, returning plain dicts.

One `StripeGateway` per worker process (see `shared_gateway`): every Stripe call of every
activity that uses it takes a token from the same bucket (`stripe_max_requests_per_second`).
Stripe errors become `ApplicationError(type="Stripe<ErrorClass>", non_retryable=status < 500
and status != 429)`; network errors (no status) are retried by Temporal.
"""

from __future__ import annotations

import weakref
from typing import Any

import stripe
from activities.rate_limit import TokenBucket
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps

# Per StripeClient, so a worker's activities share one bucket and tests' clients stay apart.
_GATEWAYS: weakref.WeakKeyDictionary[stripe.StripeClient, StripeGateway] = (
    weakref.WeakKeyDictionary()
)


def is_retryable_status(status: int | None) -> bool:
    return status is None or status >= 500 or status == 429


def stripe_error(exc: stripe.StripeError, operation: str) -> ApplicationError:
    """The ApplicationError for a failed Stripe call; carries no secret, decided by status."""
    status = exc.http_status
    return ApplicationError(
        f"stripe {operation} failed: {type(exc).__name__} status={status} code={exc.code}",
        {"status": status, "code": exc.code},
        type=f"Stripe{type(exc).__name__}",
        non_retryable=not is_retryable_status(status),
    )


def is_resource_missing(exc: stripe.StripeError) -> bool:
    return isinstance(exc, stripe.InvalidRequestError) and exc.code == "resource_missing"


def to_dict(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return result


async def _get(client: stripe.StripeClient, path: str, **params: Any) -> dict[str, Any]:
    """GET through the SDK's requestor, returning Stripe's JSON as plain dicts.

    The hot event path only reads fields, so it skips building StripeObjects and converting
    them back, which cost a worker more CPU than the HTTP call itself.
    """
    response = await client.raw_request_async("get", path, **params)
    data: dict[str, Any] = response.data
    return data


class StripeGateway:
    """The Stripe reads the webhook handlers need, each one paced by the shared bucket."""

    def __init__(self, client: stripe.StripeClient, requests_per_second: float) -> None:
        self.client = client
        self.bucket = TokenBucket(requests_per_second)

    async def retrieve_subscription(
        self, subscription_id: str, *, expand_latest_invoice: bool = False
    ) -> dict[str, Any]:
        await self.bucket.acquire()
        params: dict[str, Any] = {"expand": ["latest_invoice"]} if expand_latest_invoice else {}
        try:
            return await _get(self.client, f"/v1/subscriptions/{subscription_id}", **params)
        except stripe.StripeError as exc:
            raise stripe_error(exc, "subscriptions.retrieve") from None

    async def retrieve_checkout_session(self, session_id: str) -> dict[str, Any]:
        await self.bucket.acquire()
        try:
            return await _get(self.client, f"/v1/checkout/sessions/{session_id}")
        except stripe.StripeError as exc:
            raise stripe_error(exc, "checkout.sessions.retrieve") from None

    async def retrieve_invoice(self, invoice_id: str) -> dict[str, Any]:
        await self.bucket.acquire()
        try:
            return await _get(self.client, f"/v1/invoices/{invoice_id}")
        except stripe.StripeError as exc:
            raise stripe_error(exc, "invoices.retrieve") from None

    async def retrieve_customer(self, customer_id: str) -> dict[str, Any] | None:
        """The customer (`{"deleted": true, ...}` once deleted); None if Stripe never knew it."""
        await self.bucket.acquire()
        try:
            return await _get(self.client, f"/v1/customers/{customer_id}")
        except stripe.StripeError as exc:
            if is_resource_missing(exc):
                return None
            raise stripe_error(exc, "customers.retrieve") from None

    async def checkout_session_for_subscription(
        self, subscription_id: str
    ) -> dict[str, Any] | None:
        """The Checkout Session that created a subscription, if Stripe has one."""
        await self.bucket.acquire()
        try:
            page = await _get(
                self.client, "/v1/checkout/sessions", subscription=subscription_id, limit=1
            )
        except stripe.StripeError as exc:
            raise stripe_error(exc, "checkout.sessions.list") from None
        data = page.get("data") or []
        return dict(data[0]) if data else None


def shared_gateway(deps: ActivityDeps) -> StripeGateway:
    """The gateway of this worker process's Stripe client, created on first use."""
    gateway = _GATEWAYS.get(deps.stripe)
    if gateway is None:
        gateway = StripeGateway(deps.stripe, deps.settings.stripe_max_requests_per_second)
        _GATEWAYS[deps.stripe] = gateway
    return gateway
