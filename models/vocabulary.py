"""The words of the billing domain, defined once: statuses, plans, intervals, roles, error codes.

`StrEnum` members are plain strings, so they go straight into SQL parameters, JSON and
pydantic models; SQL that filters by a set binds the tuple (`status = ANY(:entitled)`)
instead of spelling the set out again.
"""

from __future__ import annotations

from enum import StrEnum


class SubscriptionStatus(StrEnum):
    """Stripe's subscription statuses, which are also ours (seed 002 §7)."""

    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    PAUSED = "paused"
    CANCELED = "canceled"
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"


# The statuses that entitle a workspace to its paid plan.
ENTITLED_STATUSES: tuple[SubscriptionStatus, ...] = (
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.PAST_DUE,
)
# Statuses from which a subscription never comes back.
ENDED_STATUSES: tuple[SubscriptionStatus, ...] = (
    SubscriptionStatus.CANCELED,
    SubscriptionStatus.INCOMPLETE_EXPIRED,
)


class LedgerStatus(StrEnum):
    """`stripe_webhook_events.status`: pending → processing → completed | failed | ignored,
    and failed → dead once the attempts run out."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    IGNORED = "ignored"
    DEAD = "dead"  # gave up after STRIPE_WEBHOOK_MAX_ATTEMPTS; kept until an operator acts


# Ledger statuses after which an event is never processed again (unless an operator retries
# a dead one).
FINAL_LEDGER_STATUSES: tuple[LedgerStatus, ...] = (
    LedgerStatus.COMPLETED,
    LedgerStatus.IGNORED,
    LedgerStatus.DEAD,
)


class IgnoredReason(StrEnum):
    """`stripe_webhook_events.reason` of an `ignored` row: why it changed nothing."""

    UNHANDLED_TYPE = "unhandled_type"
    NOT_OURS = "not_ours"  # an object of no workspace of ours (another product, a stranger)
    INVALID_OBJECT = "invalid_object"  # a handled type whose object id is absent or absurd


class CheckoutStatus(StrEnum):
    """`checkout_sessions.status`, and what the return page is told."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    EXPIRED = "expired"
    FAILED = "failed"


class CheckoutPayment(StrEnum):
    """How the payment of a completed but not yet confirmed checkout stands."""

    PROCESSING = "processing"  # a delayed method (bank debit) is settling
    REQUIRES_ACTION = "requires_action"  # the invoice waits for the customer


class SettlementAction(StrEnum):
    """What was done with the losing one of two live subscriptions of a workspace."""

    REFUNDED = "refunded"  # a duplicate purchase: cancelled, its payment refunded in full
    CREDITED = "credited"  # cancelled with proration: unused time as balance credit
    FLAGGED = "flagged"  # BILLING_DUPLICATE_SUBSCRIPTION_ACTION=flag: recorded, Stripe untouched

class NoticeStatus(StrEnum):
    """`entitlement_notices.status`: pending → delivered, or superseded by a newer version, or
    failed once the newest was retried for the whole window (alerted)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    SUPERSEDED = "superseded"
    FAILED = "failed"


class GrantReason(StrEnum):
    """Why a grant lookup answered as it did."""

    GRANTED = "granted"
    NOT_IN_PLAN = "not_in_plan"
    GRACE = "grace"  # granted while a failed payment is retried: `until` is the grace end


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"
    BUSINESS = "business"


SELF_SERVE_PLANS: tuple[Plan, ...] = (Plan.PRO, Plan.BUSINESS)


class Interval(StrEnum):
    MONTHLY = "monthly"
    YEARLY = "yearly"


class Role(StrEnum):
    """`workspace_members.role`."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


BILLING_MANAGER_ROLES: tuple[Role, ...] = (Role.OWNER, Role.ADMIN)


class CustomerAuditEvent(StrEnum):
    """`workspace_billing_customer_events.event_type`."""

    VALIDATED = "validated"
    INVALIDATED = "invalidated"
    RECREATED = "recreated"
    WEBHOOK_DELETED = "webhook_deleted"


class ErrorCode(StrEnum):
    """Every `error.code` of the HTTP API (DESIGN.md), and the workflow failures that carry one."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    WORKSPACE_NOT_FOUND = "WORKSPACE_NOT_FOUND"
    IDEMPOTENCY_KEY_REQUIRED = "IDEMPOTENCY_KEY_REQUIRED"
    IDEMPOTENCY_KEY_INVALID = "IDEMPOTENCY_KEY_INVALID"
    IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD = "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD"
    IDEMPOTENCY_KEY_EXPIRED = "IDEMPOTENCY_KEY_EXPIRED"
    PLAN_NOT_AVAILABLE = "PLAN_NOT_AVAILABLE"
    SUBSCRIPTION_ALREADY_ACTIVE = "SUBSCRIPTION_ALREADY_ACTIVE"
    STRIPE_CHECKOUT_SESSION_FAILED = "STRIPE_CHECKOUT_SESSION_FAILED"
    STRIPE_PORTAL_SESSION_FAILED = "STRIPE_PORTAL_SESSION_FAILED"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    INVALID_PAYLOAD = "INVALID_PAYLOAD"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    RATE_LIMITED = "RATE_LIMITED"
    BILLING_UNAVAILABLE = "BILLING_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    CHECKOUT_SESSION_NOT_FOUND = "CHECKOUT_SESSION_NOT_FOUND"
    EVENT_NOT_FOUND = "EVENT_NOT_FOUND"
    # Generic answers by HTTP status, for errors no route names more precisely.
    BAD_REQUEST = "BAD_REQUEST"
    CONFLICT = "CONFLICT"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    BAD_GATEWAY = "BAD_GATEWAY"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    ERROR = "ERROR"


def sql_in(column: str, values: tuple[StrEnum, ...] | type[StrEnum]) -> str:
    """`column IN ('a', 'b')` for check constraints and index predicates, which take no
    bind parameters."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"
