"""The Stripe API versions the emulator answers in, and Stripe's refusal of any other."""

from __future__ import annotations

from .errors import StripeError

# The bundled OpenAPI spec's version (openapi_subset.json provenance) and the one the pinned
# `stripe` SDK (16.1.0) sends; their object shapes are the same as far as the emulator goes.
SPEC_API_VERSION = "2026-08-26.dahlia"
SDK_API_VERSION = "2026-10-28.endive"
KNOWN_API_VERSIONS: tuple[str, ...] = (SPEC_API_VERSION, SDK_API_VERSION)


def invalid_version(version: str) -> StripeError:
    """Stripe's answer to a `Stripe-Version` it does not know (nothing runs, nothing is kept)."""
    return StripeError(400, f"Invalid Stripe API version: {version}", replayable=False)


def check_version(version: str) -> None:
    if version not in KNOWN_API_VERSIONS:
        raise invalid_version(version)
