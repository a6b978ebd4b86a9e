"""Idempotency-Key: replay, mismatch, in-flight 409, concurrency and SDK-generated keys."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx
import pytest
import stripe

from stripe_emulator.testing import EmulatorServer

pytestmark = pytest.mark.asyncio


async def test_replay_returns_stored_response_with_header(
    http: Callable[[], httpx.AsyncClient], emu: EmulatorServer
) -> None:
    key = str(uuid.uuid4())
    async with http() as h:
        first = await h.post(
            "/v1/customers", data={"email": "i@x.io"}, headers={"Idempotency-Key": key}
        )
        second = await h.post(
            "/v1/customers", data={"email": "i@x.io"}, headers={"Idempotency-Key": key}
        )
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert (await emu.counts())["customers"] == 1


async def test_error_responses_are_replayed_too(
    http: Callable[[], httpx.AsyncClient],
) -> None:
    key = str(uuid.uuid4())
    body = {
        "mode": "subscription",
        "customer": "cus_missing",
        "line_items[0][price]": "price_x",
        "line_items[0][quantity]": "1",
    }
    async with http() as h:
        first = await h.post("/v1/checkout/sessions", data=body, headers={"Idempotency-Key": key})
        again = await h.post("/v1/checkout/sessions", data=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 400
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


async def test_different_params_is_idempotency_error(client: stripe.StripeClient) -> None:
    key = str(uuid.uuid4())
    await client.v1.customers.create_async(
        params={"email": "a@x.io"}, options={"idempotency_key": key}
    )
    with pytest.raises(stripe.IdempotencyError) as info:
        await client.v1.customers.create_async(
            params={"email": "b@x.io"}, options={"idempotency_key": key}
        )
    assert info.value.http_status == 400
    assert info.value.error is not None and info.value.error.type == "idempotency_error"
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.products.create_async(
            params={"name": "P"}, options={"idempotency_key": key}
        )


async def test_keys_are_scoped_per_api_key(emu: EmulatorServer) -> None:
    key = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=emu.url) as h:
        for api_key in ("sk_test_one", "sk_test_two"):
            resp = await h.post(
                "/v1/customers",
                data={"name": "x"},
                headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": key},
            )
            assert "idempotent-replayed" not in resp.headers
    assert (await emu.counts())["customers"] == 2


async def test_in_flight_key_is_409(
    http: Callable[[], httpx.AsyncClient], emu: EmulatorServer
) -> None:
    await emu.configure(
        api_faults=[
            {"path": "/v1/customers", "method": "POST", "mode": "slow", "count": 1, "delay": 0.5}
        ]
    )
    key = str(uuid.uuid4())
    async with http() as h:
        slow = asyncio.create_task(
            h.post("/v1/customers", data={"name": "n"}, headers={"Idempotency-Key": key})
        )
        # Wait until the first request is inside the (slowed) endpoint, holding the key.
        while (await emu.state())["api_faults_fired"] == 0:
            await asyncio.sleep(0.01)
        busy = await h.post("/v1/customers", data={"name": "n"}, headers={"Idempotency-Key": key})
        first = await slow
    assert busy.status_code == 409
    assert busy.json()["error"]["type"] == "idempotency_error"
    assert busy.json()["error"]["code"] == "idempotency_key_in_use"
    assert first.status_code == 200
    assert (await emu.counts())["customers"] == 1


async def test_fifty_concurrent_creates_make_one_object(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    key = str(uuid.uuid4())

    async def create() -> str | None:
        try:
            cus = await client.v1.customers.create_async(
                params={"email": "c@x.io"}, options={"idempotency_key": key}
            )
            return cus.id
        except stripe.StripeError as exc:
            assert exc.http_status == 409
            return None

    ids = {i for i in await asyncio.gather(*(create() for _ in range(50))) if i}
    assert len(ids) == 1
    assert (await emu.counts())["customers"] == 1


async def test_sdk_retries_reuse_generated_key(emu: EmulatorServer) -> None:
    """With retries on, the SDK adds a key; a 500 before execution is retried, not doubled."""
    await emu.configure(
        api_faults=[{"path": "/v1/customers", "method": "POST", "mode": "500", "count": 1}]
    )
    client = stripe.StripeClient(
        emu.api_key,
        base_addresses={"api": emu.url},
        http_client=stripe.HTTPXClient(),
        max_network_retries=3,
    )
    cus = await client.v1.customers.create_async(params={"email": "r@x.io"})
    assert cus.last_response is not None
    assert cus.last_response.headers.get("idempotency-key")
    assert (await emu.counts())["customers"] == 1
    state = await emu.state()
    assert state["api_faults_fired"] == 1


async def test_events_record_request_and_key(
    client: stripe.StripeClient,
) -> None:
    key = "customer:v2:ws_1:abc"
    cus = await client.v1.customers.create_async(
        params={"email": "e@x.io"}, options={"idempotency_key": key}
    )
    events = await client.v1.events.list_async(params={"type": "customer.created"})
    assert events.data[0].data.object["id"] == cus.id
    assert events.data[0].request is not None
    assert events.data[0].request.idempotency_key == key
    assert cus.last_response is not None
    assert events.data[0].request.id == cus.last_response.request_id


async def test_injected_429_is_rate_limit_error(
    client: stripe.StripeClient, emu: EmulatorServer
) -> None:
    await emu.configure(api_faults=[{"path": "/v1/customers/*", "mode": "429", "count": 1}])
    with pytest.raises(stripe.RateLimitError) as info:
        await client.v1.customers.retrieve_async("cus_any")
    assert info.value.error is not None and info.value.error.code == "rate_limit"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.customers.retrieve_async("cus_any")  # the fault is used up
