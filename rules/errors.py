"""What the billing rules refuse to decide: facts no retry will change, each with its type."""

from __future__ import annotations

from models.event_payloads import (
    PLAN_NOT_RESOLVED,
    UNKNOWN_SUBSCRIPTION_STATUS,
    WORKSPACE_NOT_RESOLVED,
)
from models.failures import BillingFailure


class NotOurs(Exception):
    """The object belongs to no workspace of ours: no row we hold and no customer we map.
    Final without effect: the ledger says `ignored` (`not_ours`), nothing is retried."""


class RuleViolation(BillingFailure):
    """Final: the activity that met it fails for good and the ledger records why."""

    def __init__(self, message: str, *, type: str) -> None:
        super().__init__(message, type=type, retryable=False)


def workspace_not_resolved(what: str) -> RuleViolation:
    return RuleViolation(f"no workspace found for {what}", type=WORKSPACE_NOT_RESOLVED)


def unknown_subscription_status(status: str) -> RuleViolation:
    return RuleViolation(
        f"unknown subscription status {status!r}", type=UNKNOWN_SUBSCRIPTION_STATUS
    )


def plan_not_resolved(message: str) -> RuleViolation:
    return RuleViolation(message, type=PLAN_NOT_RESOLVED)
