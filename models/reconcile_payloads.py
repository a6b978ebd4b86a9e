"""Input, result and activity name of CheckoutReconcileWorkflow; no DB or Stripe imports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

ACTIVITY_RECONCILE_CHECKOUT = "checkout_reconcile.reconcile_session"
# The checkout row is gone (workspace deleted) or names another workspace: nothing to apply.
CHECKOUT_SESSION_UNKNOWN = "CheckoutSessionUnknown"


class CheckoutReconcileInput(BaseModel):
    """One of our checkout sessions whose finalizing webhook is late or lost (seed 000)."""

    workspace_id: str
    checkout_session_id: str


class CheckoutReconcileResult(BaseModel):
    checkout_session_id: str
    # What Stripe says now: confirmed (applied as the webhook would), pending, failed, expired.
    status: Literal["pending", "confirmed", "expired", "failed"]
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None
    plan: str | None = None
