"""Failures the billing code raises below the activity layer, each with a type and a retry rule.

Activities turn them into Temporal `ApplicationError`s in one place
(`activities/failures.py`), so the rules and the Stripe gateway stay free of Temporal.
"""

from __future__ import annotations

from typing import Any


class BillingFailure(Exception):
    """A failure with a stable `type` (what workflows and the ledger decide on) and a retry rule."""

    def __init__(
        self,
        message: str,
        *,
        type: str,
        retryable: bool,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.type = type
        self.retryable = retryable
        self.details = details or {}
