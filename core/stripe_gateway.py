"""The one way to Stripe: every call, one error mapping, one retry rule.

Activities and the billing rules reach Stripe only through `StripeGateway`. Its client's
HTTP layer paces every request (`core.stripe_client`); the gateway turns SDK errors into
`StripeCallError`, whose `type` says what a workflow can do about it and whose `retryable`
is the single retry rule: network failures, 5xx, 429 and an idempotency key still in
flight may succeed later; any other 4xx never will.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import stripe

from models.checkout_payloads import (
    STRIPE_CUSTOMER_MISSING,
    STRIPE_PRICE_STALE,
    STRIPE_REQUEST_REFUSED,
    STRIPE_UNAVAILABLE,
)
from models.failures import BillingFailure

T = TypeVar("T")
S = TypeVar("S", bound=stripe.StripeObject)


def is_retryable(exc: stripe.StripeError) -> bool:
    status = exc.http_status
    if exc.code == "idempotency_key_in_use":
        return True  # Stripe's 409 while the key's first request is still running
    return status is None or status >= 500 or status == 429


def is_resource_missing(exc: stripe.StripeError) -> bool:
    return isinstance(exc, stripe.InvalidRequestError) and exc.code == "resource_missing"


def failure_type(exc: stripe.StripeError) -> str:
    param = (exc.param or "") if isinstance(exc, stripe.InvalidRequestError) else ""
    if is_resource_missing(exc) and param == "customer":
        return STRIPE_CUSTOMER_MISSING
    if is_resource_missing(exc) and param.startswith("line_items"):
        return STRIPE_PRICE_STALE  # the price is unknown to Stripe or no longer sold
    return STRIPE_UNAVAILABLE if is_retryable(exc) else STRIPE_REQUEST_REFUSED


class StripeCallError(BillingFailure):
    """A Stripe call that failed; never carries the API key."""

    @classmethod
    def from_sdk(cls, exc: stripe.StripeError, operation: str) -> StripeCallError:
        status = exc.http_status
        return cls(
            f"stripe {operation} failed: Stripe{type(exc).__name__} "
            f"status={status} code={exc.code}",
            type=failure_type(exc),
            retryable=is_retryable(exc),
            details={"status": status, "code": exc.code, "request_id": exc.request_id},
        )


class StripeGateway:
    """Stripe for activities and rules: typed SDK calls, raw JSON reads, auto-paged lists."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def call(self, operation: str, request: Awaitable[T]) -> T:
        """Await an SDK call, e.g. `gateway.call("customers.create", client.v1.customers
        .create_async(...))`, mapping its failure."""
        try:
            return await request
        except stripe.StripeError as exc:
            raise StripeCallError.from_sdk(exc, operation) from None

    async def each(
        self, operation: str, first_page: Awaitable[stripe.ListObject[S]]
    ) -> AsyncIterator[S]:
        """Every item of a list, page after page through the SDK's auto-paging."""
        try:
            page = await first_page
            async for item in page.auto_paging_iter():
                yield item
        except stripe.StripeError as exc:
            raise StripeCallError.from_sdk(exc, operation) from None

    async def get(self, operation: str, path: str, **params: Any) -> dict[str, Any]:
        """GET returning Stripe's JSON as plain dicts.

        The hot event path only reads fields, so it skips building StripeObjects and
        converting them back, which cost a worker more CPU than the HTTP call itself.
        """
        try:
            response = await self.client.raw_request_async("get", path, **params)
        except stripe.StripeError as exc:
            raise StripeCallError.from_sdk(exc, operation) from None
        data: dict[str, Any] = response.data
        return data

    async def retrieve_subscription(
        self, subscription_id: str, *, expand_latest_invoice: bool = False
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"expand": ["latest_invoice"]} if expand_latest_invoice else {}
        return await self.get(
            "subscriptions.retrieve", f"/v1/subscriptions/{subscription_id}", **params
        )

    async def retrieve_checkout_session(self, session_id: str) -> dict[str, Any]:
        return await self.get("checkout.sessions.retrieve", f"/v1/checkout/sessions/{session_id}")

    async def retrieve_invoice(self, invoice_id: str) -> dict[str, Any]:
        return await self.get("invoices.retrieve", f"/v1/invoices/{invoice_id}")

    async def retrieve_customer(self, customer_id: str) -> dict[str, Any] | None:
        """The customer (`{"deleted": true, ...}` once deleted); None if Stripe never knew it."""
        try:
            response = await self.client.raw_request_async("get", f"/v1/customers/{customer_id}")
        except stripe.StripeError as exc:
            if is_resource_missing(exc):
                return None
            raise StripeCallError.from_sdk(exc, "customers.retrieve") from None
        data: dict[str, Any] = response.data
        return data

    async def checkout_session_for_subscription(
        self, subscription_id: str
    ) -> dict[str, Any] | None:
        """The Checkout Session that created a subscription, if Stripe has one."""
        page = await self.get(
            "checkout.sessions.list", "/v1/checkout/sessions", subscription=subscription_id,
            limit=1,
        )
        data = page.get("data") or []
        return dict(data[0]) if data else None
