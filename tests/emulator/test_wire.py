"""Wire-level behaviour: auth, error bodies, headers, form decoding and unknown params."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import stripe

from stripe_emulator.testing import EmulatorServer

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    "auth",
    [None, "Bearer sk_live_123456789", "Bearer nope", "Token sk_test_abc", "Bearer sk_test_"],
)
async def test_bad_or_missing_api_key_is_401(emu: EmulatorServer, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    async with httpx.AsyncClient(base_url=emu.url) as h:
        resp = await h.get("/v1/customers", headers=headers)
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert resp.headers["request-id"].startswith("req_")


async def test_sdk_raises_authentication_error(emu: EmulatorServer) -> None:
    client = stripe.StripeClient(
        "sk_live_nope",
        base_addresses={"api": emu.url},
        http_client=stripe.HTTPXClient(),
        max_network_retries=0,
    )
    with pytest.raises(stripe.AuthenticationError):
        await client.v1.customers.list_async()


async def test_basic_auth_with_test_key_is_accepted(emu: EmulatorServer) -> None:
    async with httpx.AsyncClient(base_url=emu.url, auth=(emu.api_key, "")) as h:
        resp = await h.get("/v1/customers")
    assert resp.status_code == 200


async def test_missing_object_is_404_resource_missing(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.customers.retrieve_async("cus_123")
    err = info.value
    assert err.http_status == 404
    assert err.code == "resource_missing"
    assert err.param == "id"
    assert err.user_message == "No such customer: 'cus_123'"
    assert err.request_id and err.request_id.startswith("req_")


async def test_unknown_parameter_and_missing_param(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.customers.create_async(params={"emial": "x@y.z"})  # type: ignore[arg-type]
    assert info.value.http_status == 400
    assert info.value.code == "parameter_unknown"
    assert info.value.param == "emial"
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.products.create_async(params={})  # type: ignore[typeddict-item]
    assert info.value.code == "parameter_missing"
    assert info.value.param == "name"


async def test_unrecognized_url_and_headers(
    emu: EmulatorServer, http: Callable[[], httpx.AsyncClient]
) -> None:
    async with http() as h:
        resp = await h.get("/v1/nothing_here")
        assert resp.status_code == 404
        assert "Unrecognized request URL" in resp.json()["error"]["message"]
        ok = await h.get("/v1/customers", headers={"Stripe-Version": "2026-10-28.endive"})
    assert ok.status_code == 200
    assert ok.headers["stripe-version"] == "2026-10-28.endive"
    assert ok.headers["request-id"].startswith("req_")
    assert ok.json() == {"object": "list", "data": [], "has_more": False, "url": "/v1/customers"}


async def test_sdk_sends_version_and_form_encoding(client: stripe.StripeClient) -> None:
    cus = await client.v1.customers.create_async(
        params={"email": "f@x.io", "name": "F", "metadata": {"workspace_id": "ws_1"}}
    )
    got = await client.v1.customers.retrieve_async(cus.id)
    assert got.metadata is not None
    assert got.metadata.to_dict() == {"workspace_id": "ws_1"}
    assert got.email == "f@x.io"
    assert cus.last_response is not None
    assert cus.last_response.headers["stripe-version"]
