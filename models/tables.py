"""Every table of the service, imported in one place for Alembic and tests."""

from sqlmodel import SQLModel

from models.catalog import PlanVariant
from models.checkout import CheckoutSession, StripeCheckoutIdempotency
from models.customer import WorkspaceBillingCustomer, WorkspaceBillingCustomerEvent
from models.entitlements import EntitlementNotice, WorkspaceEntitlement
from models.limits import RateLimitWindow, TokenBucketRow
from models.settlement import DuplicateSettlement
from models.subscription import Subscription, SubscriptionItem, WorkspaceGrant
from models.webhook import BillingCursor, StripeWebhookEvent
from models.workspace import Workspace, WorkspaceMember

metadata = SQLModel.metadata

__all__ = [
    "BillingCursor",
    "CheckoutSession",
    "DuplicateSettlement",
    "EntitlementNotice",
    "PlanVariant",
    "RateLimitWindow",
    "StripeCheckoutIdempotency",
    "StripeWebhookEvent",
    "Subscription",
    "SubscriptionItem",
    "TokenBucketRow",
    "Workspace",
    "WorkspaceBillingCustomer",
    "WorkspaceBillingCustomerEvent",
    "WorkspaceEntitlement",
    "WorkspaceGrant",
    "WorkspaceMember",
    "metadata",
]
