"""The one StripeClient of a process: pinned API version, configurable base URL, async HTTP."""

from __future__ import annotations

import stripe

from core.config import Settings

# Seed 002 fixes the API version; Stripe objects are parsed by this shape.
STRIPE_API_VERSION = "2026-01-28.clover"


def create_stripe_client(settings: Settings) -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},
        http_client=stripe.HTTPXClient(),
        # Retries belong to Temporal's retry policy, not to the SDK: one place decides.
        max_network_retries=settings.stripe_max_network_retries,
    )
