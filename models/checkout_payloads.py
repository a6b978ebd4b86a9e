"""Inputs, results and failure types of the checkout and portal workflows and their activities.

Light on purpose: no DB or Stripe imports, so the workflow sandbox loads it cheaply.
"""

from __future__ import annotations

from pydantic import BaseModel

from models.vocabulary import ErrorCode

# How long an Idempotency-Key stays bound to its payload and answer (seed 002 §3).
IDEMPOTENCY_TTL_HOURS = 24

# Activity failure types (ApplicationError.type) the workflows decide on.
STRIPE_CUSTOMER_MISSING = "StripeCustomerMissing"  # resource_missing on param `customer`
STRIPE_PRICE_STALE = "StripePriceStale"  # the price is unknown or archived at Stripe
STRIPE_REQUEST_REFUSED = "StripeRequestRefused"  # any other 4xx: retrying cannot help
STRIPE_UNAVAILABLE = "StripeUnavailable"  # 5xx, 429 or network: retried, then given up
WORKSPACE_GONE = "WorkspaceGone"  # deleted by the main application meanwhile

# Workflow failure types: the API error codes of DESIGN.md, answered as they are.
SUBSCRIPTION_ALREADY_ACTIVE = ErrorCode.SUBSCRIPTION_ALREADY_ACTIVE
PLAN_NOT_AVAILABLE = ErrorCode.PLAN_NOT_AVAILABLE
STRIPE_CHECKOUT_SESSION_FAILED = ErrorCode.STRIPE_CHECKOUT_SESSION_FAILED
STRIPE_PORTAL_SESSION_FAILED = ErrorCode.STRIPE_PORTAL_SESSION_FAILED


class EnsureCustomerInput(BaseModel):
    workspace_id: str
    # Seeds the Stripe idempotency key of a customer create (seed 002 §5).
    request_scope: str
    # A customer id Stripe just refused: invalidate it without asking Stripe again.
    stale_customer_id: str | None = None


class EnsureCustomerResult(BaseModel):
    stripe_customer_id: str
    # validated | created | recreated | remapped_concurrently
    outcome: str


class CheckoutContextInput(BaseModel):
    workspace_id: str
    plan_slug: str
    interval: str


class CheckoutContextResult(BaseModel):
    stripe_price_id: str | None
    has_paid_subscription: bool


class CreateCheckoutSessionInput(BaseModel):
    workspace_id: str
    idempotency_key: str
    stripe_customer_id: str
    stripe_price_id: str
    plan_slug: str
    interval: str


class CheckoutSessionCreated(BaseModel):
    id: str
    url: str
    expires_at: int


class RecordCheckoutInput(BaseModel):
    workspace_id: str
    idempotency_key: str
    user_id: str | None
    request_hash: str
    plan_slug: str
    interval: str
    stripe_customer_id: str
    stripe_price_id: str
    session: CheckoutSessionCreated


class CheckoutInput(BaseModel):
    workspace_id: str
    idempotency_key: str
    user_id: str | None
    plan_slug: str
    interval: str
    # sha256 of the canonical payload: proves a shared execution answers the same request.
    request_hash: str


class CheckoutResult(BaseModel):
    id: str
    url: str
    expires_at: int
    request_hash: str
    stripe_customer_id: str


class CreatePortalSessionInput(BaseModel):
    stripe_customer_id: str


class PortalSessionCreated(BaseModel):
    url: str


class PortalInput(BaseModel):
    workspace_id: str
    request_id: str


class PortalResult(BaseModel):
    url: str
    stripe_customer_id: str
