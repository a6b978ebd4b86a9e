"""Inputs, results and activity names of the Stripe event workflow; no DB or Stripe imports.

Light on purpose: the workflow sandbox and the API load it cheaply. `event_hints` reads the
ids an event's payload names — hints only: handlers re-fetch the object from Stripe.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# Activity names: the workflow calls activities by name, so it never imports DB or Stripe code.
ACTIVITY_CLAIM_EVENT = "stripe_event.claim"
ACTIVITY_APPLY_EVENT = "stripe_event.apply"
ACTIVITY_FAIL_EVENT = "stripe_event.fail"
# Claim and apply in one local activity (runs started since the workflow's one-activity patch).
ACTIVITY_PROCESS_EVENT = "stripe_event.process"

# ApplicationError types raised by the event activities (all non-retryable).
EVENT_NOT_STORED = "StripeEventNotStored"
WORKSPACE_NOT_RESOLVED = "WorkspaceNotResolved"
PLAN_NOT_RESOLVED = "PlanNotResolved"
UNKNOWN_SUBSCRIPTION_STATUS = "UnknownSubscriptionStatus"
# The workflow's own failure once an event is given up (row marked `failed`).
STRIPE_EVENT_FAILED = "StripeEventFailed"


class EventHints(BaseModel):
    """Ids named by the event payload: where to look, never what to apply."""

    object_id: str | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    # `client_reference_id` or `metadata.workspace_id` of the payload object.
    workspace_id: str | None = None
    # The event's `created` (Unix seconds): detects deliveries older than the applied state.
    created: int | None = None


class StripeEventInput(BaseModel):
    """The workflow input: what the ledger row `stripe_webhook_events.id` holds is the rest."""

    event_id: str
    event_type: str


class StripeEventResult(BaseModel):
    event_id: str
    # completed (applied now) | skipped (already completed or ignored earlier)
    outcome: str
    workspace_id: str | None = None
    plan: str | None = None


class ClaimEventInput(BaseModel):
    event_id: str


class ClaimEventResult(BaseModel):
    # False when the ledger already says completed/ignored: never process an event twice.
    proceed: bool
    status: str
    attempts: int
    event_type: str
    hints: EventHints


class ApplyEventInput(BaseModel):
    event_id: str
    event_type: str
    hints: EventHints


class AppliedState(BaseModel):
    """What a billing change left behind for one workspace (or nothing, for a no-op)."""

    workspace_id: str | None = None
    plan: str | None = None
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None
    subscription_status: str | None = None
    entitled: bool = False
    # The event was older than the state already applied (counted; fresh state still applied).
    out_of_order: bool = False
    note: str | None = None


class ProcessEventResult(BaseModel):
    # False when the ledger already says the event is final: nothing was applied.
    proceed: bool
    hints: EventHints = EventHints()
    applied: AppliedState = AppliedState()


class FailEventInput(BaseModel):
    event_id: str
    event_type: str
    error: str


class FailEventResult(BaseModel):
    marked: bool


# Unix seconds past any date Stripe will send (the year 2286); PostgreSQL's timestamps and
# Python's datetimes both end long before the largest integers JSON can carry.
MAX_CREATED = 10**10


def stripe_created(value: Any) -> int | None:
    """An event's `created` when it is one Stripe could send, else None (JSON `true` is a
    Python int, and a huge one overflows every timestamp)."""
    return value if type(value) is int and 0 <= value < MAX_CREATED else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id_of(value: Any) -> str | None:
    """A Stripe reference: either an id string or an expanded object with `id`."""
    if isinstance(value, dict):
        return _str(value.get("id"))
    return _str(value)


def invoice_subscription_id(invoice: dict[str, Any]) -> str | None:
    """The subscription of an invoice: `parent.subscription_details.subscription` (new API),
    or the top-level `subscription` field of older API versions."""
    parent = invoice.get("parent")
    if isinstance(parent, dict):
        details = parent.get("subscription_details")
        if isinstance(details, dict):
            found = _id_of(details.get("subscription"))
            if found:
                return found
    return _id_of(invoice.get("subscription"))


def event_hints(event: dict[str, Any]) -> EventHints:
    """The hints of a Stripe event (a parsed webhook body or Events API object)."""
    data = event.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    obj: dict[str, Any] = found if isinstance(found, dict) else {}
    kind = obj.get("object")
    raw_metadata = obj.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    hints = EventHints(
        object_id=_str(obj.get("id")),
        created=stripe_created(event.get("created")),
        workspace_id=_str(obj.get("client_reference_id")) or _str(metadata.get("workspace_id")),
    )
    if kind == "customer":
        hints.customer_id = hints.object_id
    else:
        hints.customer_id = _id_of(obj.get("customer"))
    if kind == "subscription":
        hints.subscription_id = hints.object_id
    elif kind == "invoice":
        hints.subscription_id = invoice_subscription_id(obj)
        if hints.workspace_id is None:
            parent = obj.get("parent")
            details = parent.get("subscription_details") if isinstance(parent, dict) else None
            sub_meta = details.get("metadata") if isinstance(details, dict) else None
            if isinstance(sub_meta, dict):
                hints.workspace_id = _str(sub_meta.get("workspace_id"))
    elif kind == "checkout.session":
        hints.subscription_id = _id_of(obj.get("subscription"))
    return hints
