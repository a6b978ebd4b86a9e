"""`Stripe-Version`: known versions are answered in, unknown ones refused like Stripe does."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources

import httpx
import pytest
import stripe

from stripe_emulator.testing import EmulatorServer
from stripe_emulator.versions import KNOWN_API_VERSIONS, SPEC_API_VERSION

pytestmark = pytest.mark.asyncio


async def test_known_versions_are_the_spec_and_the_sdk() -> None:
    text = resources.files("stripe_emulator").joinpath("openapi_subset.json").read_text()
    assert json.loads(text)["provenance"]["api_version"] == SPEC_API_VERSION
    assert stripe.api_version in KNOWN_API_VERSIONS
    assert SPEC_API_VERSION in KNOWN_API_VERSIONS


async def test_unknown_version_is_refused_by_the_sdk(
    emu: EmulatorServer, client: stripe.StripeClient
) -> None:
    old = stripe.StripeClient(
        emu.api_key,
        stripe_version="2019-02-19",
        base_addresses={"api": emu.url},
        http_client=stripe.HTTPXClient(),
        max_network_retries=0,
    )
    with pytest.raises(stripe.InvalidRequestError) as info:
        await old.v1.customers.create_async(params={"email": "old@x.io"})
    assert info.value.http_status == 400
    assert info.value.error is not None and info.value.error.type == "invalid_request_error"
    assert info.value.user_message == "Invalid Stripe API version: 2019-02-19"
    assert (await client.v1.customers.list_async()).data == []  # nothing was created
    assert (await emu.counts()).get("customers") is None


async def test_versions_on_the_wire(
    emu: EmulatorServer, http: Callable[[], httpx.AsyncClient]
) -> None:
    async with http() as h:
        spec = await h.get("/v1/customers", headers={"Stripe-Version": SPEC_API_VERSION})
        sdk = await h.get("/v1/customers", headers={"Stripe-Version": stripe.api_version})
        default = await h.get("/v1/customers")
        bad = await h.post(
            "/v1/customers",
            data={"email": "x@y.z"},
            headers={"Stripe-Version": "2026-08-26", "Idempotency-Key": "v-1"},
        )
        retried = await h.post(
            "/v1/customers",
            data={"email": "x@y.z"},
            headers={"Stripe-Version": SPEC_API_VERSION, "Idempotency-Key": "v-1"},
        )
    assert spec.status_code == 200 and spec.headers["stripe-version"] == SPEC_API_VERSION
    assert sdk.headers["stripe-version"] == stripe.api_version
    assert default.headers["stripe-version"] == stripe.api_version  # the account's version
    assert bad.status_code == 400 and bad.headers["request-id"].startswith("req_")
    assert bad.json()["error"]["message"] == "Invalid Stripe API version: 2026-08-26"
    assert bad.json()["error"]["type"] == "invalid_request_error"
    # A refused request ran nothing, so the idempotency key is still free.
    assert retried.status_code == 200 and "idempotent-replayed" not in retried.headers


async def test_config_shows_known_versions_and_events_use_the_account_version(
    emu: EmulatorServer, client: stripe.StripeClient
) -> None:
    async with httpx.AsyncClient(base_url=emu.url, headers=emu.control_headers) as h:
        config = (await h.get("/_emulator/config")).json()
        assert config["known_api_versions"] == list(KNOWN_API_VERSIONS)
        assert config["api_version"] == stripe.api_version
        echoed = await h.post("/_emulator/config", json=config)
        assert echoed.status_code == 200, echoed.text
        changed = await h.post("/_emulator/config", json={"known_api_versions": ["2020-01-01"]})
        assert changed.status_code == 400
        unknown = await h.post("/_emulator/config", json={"api_version": "2020-08-27"})
        assert unknown.status_code == 400
        assert "Invalid Stripe API version" in unknown.json()["error"]["message"]
        switched = await h.post("/_emulator/config", json={"api_version": SPEC_API_VERSION})
        assert switched.json()["api_version"] == SPEC_API_VERSION
    try:
        await client.v1.customers.create_async()
        event = (await client.v1.events.list_async()).data[0]
        assert event.api_version == SPEC_API_VERSION
    finally:
        await emu.configure(api_version=stripe.api_version)
