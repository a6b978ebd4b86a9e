"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from models.vocabulary import CheckoutPayment


class PendingCheckoutPublic(BaseModel):
    id: str
    plan_slug: str
    interval: str
    created_at: datetime
    expires_at: datetime | None


class BillingStatusPublic(BaseModel):
    workspace_id: str
    plan: str
    subscription_status: str | None
    interval: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    grace_period_end: datetime | None
    stripe_subscription_id: str | None
    grants: dict[str, object]
    pending_checkout: PendingCheckoutPublic | None


class CheckoutRequest(BaseModel):
    """The self-serve plan variant to buy."""

    plan_slug: Literal["pro", "business"] = Field(description="The plan to buy.")
    interval: Literal["monthly", "yearly"] = Field(description="How often it is billed.")


class CheckoutSessionPublic(BaseModel):
    id: str
    url: str
    expires_at: int


class PortalSessionPublic(BaseModel):
    url: str


class CheckoutStatusPublic(BaseModel):
    """`confirmed` only once the subscription is paid (active or trialing)."""

    status: Literal["pending", "confirmed", "expired", "failed"]
    subscription_id: str | None
    # Only while `pending` after the session completed: the payment is settling (a bank
    # debit) or waits for the customer.
    payment: CheckoutPayment | None = None
    # Only when `failed`: `payment_failed` (the first payment failed or never completed).
    reason: str | None = None
