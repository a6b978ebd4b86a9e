"""Turns Stripe SDK errors of checkout, portal and catalog calls into typed ApplicationErrors."""

from __future__ import annotations

import stripe
from temporalio.exceptions import ApplicationError

from models.checkout_payloads import (
    STRIPE_CUSTOMER_MISSING,
    STRIPE_PRICE_STALE,
    STRIPE_REQUEST_REFUSED,
    STRIPE_UNAVAILABLE,
)


def is_retryable(exc: stripe.StripeError) -> bool:
    """Network failures (no status), 5xx and 429 may succeed later; other 4xx never will.

    Exception: Stripe's 409 for an idempotency key whose first request is still in flight
    asks the caller to try again later.
    """
    status = exc.http_status
    if exc.code == "idempotency_key_in_use":
        return True
    return status is None or status >= 500 or status == 429


def is_missing_customer(exc: stripe.StripeError) -> bool:
    return (
        isinstance(exc, stripe.InvalidRequestError)
        and exc.code == "resource_missing"
        and (exc.param or "") == "customer"
    )


def is_stale_price(exc: stripe.StripeError) -> bool:
    """A line item's price that Stripe no longer knows or no longer sells."""
    param = exc.param or "" if isinstance(exc, stripe.InvalidRequestError) else ""
    return exc.code == "resource_missing" and param.startswith("line_items")


def stripe_failure(exc: stripe.StripeError, operation: str) -> ApplicationError:
    """The ApplicationError an activity raises for `exc`; never carries the API key."""
    status = exc.http_status
    if is_missing_customer(exc):
        kind = STRIPE_CUSTOMER_MISSING
    elif is_stale_price(exc):
        kind = STRIPE_PRICE_STALE
    elif is_retryable(exc):
        kind = STRIPE_UNAVAILABLE
    else:
        kind = STRIPE_REQUEST_REFUSED
    return ApplicationError(
        f"stripe {operation} failed: {type(exc).__name__} status={status} code={exc.code}",
        {"status": status, "code": exc.code, "request_id": exc.request_id},
        type=kind,
        non_retryable=not is_retryable(exc),
    )
