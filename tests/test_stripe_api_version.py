"""One Stripe API version: STRIPE_API_VERSION is sent on every call the service makes."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from pydantic import ValidationError

from core.config import Settings
from core.stripe_client import create_stripe_client
from core.stripe_gateway import StripeCallError, StripeGateway
from stripe_emulator.versions import SPEC_API_VERSION
from tests.conftest import make_settings


def test_the_default_is_the_version_the_sdk_is_built_for(settings: Settings) -> None:
    assert settings.stripe_api_version == stripe.api_version
    with pytest.raises(ValidationError):
        make_settings("postgresql://x/y", "127.0.0.1:7233", "q", stripe_api_version="latest")


async def test_every_call_sends_the_configured_version(
    settings: Settings, stripe_client: stripe.StripeClient, emulator_server: Any
) -> None:
    # A version the SDK would never send by itself: only the setting can put it on the wire.
    pinned = create_stripe_client(
        settings.model_copy(update={"stripe_api_version": SPEC_API_VERSION})
    )
    created = await pinned.v1.customers.create_async({"email": "v@example.com"})
    assert created.last_response is not None
    assert created.last_response.headers["stripe-version"] == SPEC_API_VERSION
    raw = await pinned.raw_request_async("get", f"/v1/customers/{created.id}")
    assert raw.headers["stripe-version"] == SPEC_API_VERSION

    # Stripe refuses a version it does not know: proof the header is what the setting says.
    unknown = create_stripe_client(
        settings.model_copy(update={"stripe_api_version": "2019-02-19"})
    )
    with pytest.raises(StripeCallError):
        await StripeGateway(unknown).get("customers.retrieve", f"/v1/customers/{created.id}")
