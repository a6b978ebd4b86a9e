"""The one place where failures of the rules and of the Stripe gateway become Temporal's.

Every activity that calls Stripe or the billing rules runs its body inside `reported()`:
a `BillingFailure` leaves as `ApplicationError(type=failure.type, non_retryable=...)`, so
workflows decide by `.type` and Temporal retries only what may succeed later.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.exceptions import ApplicationError

from models.failures import BillingFailure


def as_application_error(failure: BillingFailure) -> ApplicationError:
    return ApplicationError(
        str(failure),
        failure.details,
        type=failure.type,
        non_retryable=not failure.retryable,
    )


@contextmanager
def reported() -> Iterator[None]:
    """Re-raise a `BillingFailure` from the block as the ApplicationError Temporal acts on."""
    try:
        yield
    except BillingFailure as failure:
        raise as_application_error(failure) from None
