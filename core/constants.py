"""Names shared by the API, the worker and operators: task queue, ids and search attributes."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

# Workflow id prefixes: business keys, so a second start of the same work is a dedupe.
EVENT_WORKFLOW_PREFIX = "stripe-event"
CHECKOUT_WORKFLOW_PREFIX = "checkout"
PORTAL_WORKFLOW_PREFIX = "portal"
CHECKOUT_RECONCILE_WORKFLOW_PREFIX = "checkout-reconcile"
CATALOG_SYNC_WORKFLOW_PREFIX = "catalog-sync"
# One serial drainer of entitlement notices per workspace.
ENTITLEMENT_NOTICES_WORKFLOW_PREFIX = "entitlements-notices"

# Temporal Schedules (DESIGN.md).
SCHEDULE_REPLAY = "billing-replay"
SCHEDULE_GRACE = "billing-grace"
SCHEDULE_CATALOG_SYNC = "billing-catalog-sync"
SCHEDULE_CLEANUP = "billing-cleanup"
SCHEDULE_ENTITLEMENT_NOTICES = "billing-entitlement-notices"

# Custom search attributes (Keyword), registered on the dev server and by setup-temporal.
SA_WORKSPACE_ID = SearchAttributeKey.for_keyword("WorkspaceId")
SA_STRIPE_CUSTOMER_ID = SearchAttributeKey.for_keyword("StripeCustomerId")
SA_STRIPE_SUBSCRIPTION_ID = SearchAttributeKey.for_keyword("StripeSubscriptionId")
SA_STRIPE_CHECKOUT_SESSION_ID = SearchAttributeKey.for_keyword("StripeCheckoutSessionId")
SA_STRIPE_EVENT_TYPE = SearchAttributeKey.for_keyword("StripeEventType")

SEARCH_ATTRIBUTES = (
    SA_WORKSPACE_ID,
    SA_STRIPE_CUSTOMER_ID,
    SA_STRIPE_SUBSCRIPTION_ID,
    SA_STRIPE_CHECKOUT_SESSION_ID,
    SA_STRIPE_EVENT_TYPE,
)

# Billing vocabulary (seed 002 §4, §7).
HANDLED_EVENT_TYPES = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "customer.deleted",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.payment_failed",
    "invoice.paid",
)

def event_workflow_id(event_id: str) -> str:
    return f"{EVENT_WORKFLOW_PREFIX}:{event_id}"


def checkout_workflow_id(workspace_id: str, idempotency_key: str) -> str:
    return f"{CHECKOUT_WORKFLOW_PREFIX}:{workspace_id}:{idempotency_key}"


def entitlement_notices_workflow_id(workspace_id: str) -> str:
    return f"{ENTITLEMENT_NOTICES_WORKFLOW_PREFIX}:{workspace_id}"


def portal_workflow_id(workspace_id: str, request_id: str) -> str:
    return f"{PORTAL_WORKFLOW_PREFIX}:{workspace_id}:{request_id}"
