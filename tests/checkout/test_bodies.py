"""Checkout and portal bodies are bounded: too big is 413, too deep is 422, never a 500."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest

from api.bodies import MAX_BODY_BYTES, MAX_NESTING
from tests.checkout.conftest import PRO_MONTHLY, Billing, assert_error, checkout_url, portal_url
from tests.conftest import bearer


async def owner_headers(billing: Billing) -> tuple[uuid.UUID, dict[str, str]]:
    workspace_id, user_id = await billing.workspace()
    return workspace_id, {**bearer(user_id), "Idempotency-Key": str(uuid.uuid4())}


async def test_an_oversize_body_is_413_declared_or_streamed(billing: Billing) -> None:
    workspace_id, headers = await owner_headers(billing)
    padded = json.dumps({**PRO_MONTHLY, "note": "x" * MAX_BODY_BYTES}).encode()
    response = await billing.http.post(checkout_url(workspace_id), content=padded, headers=headers)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for start in range(0, len(padded), 1024):
            yield padded[start : start + 1024]

    url = checkout_url(workspace_id)
    response = await billing.http.post(url, content=chunks(), headers=headers)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    response = await billing.http.post(portal_url(workspace_id), content=padded, headers=headers)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert await billing.created("checkout_sessions") == 0


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("arrays 5,000 deep", b"[" * 5000 + b"]" * 5000),
        ("objects past the bound", b'{"a":' * (MAX_NESTING + 1) + b"1" + b"}" * (MAX_NESTING + 1)),
        (
            "a deep value beside a valid plan",
            json.dumps({**PRO_MONTHLY, "extra": json.loads("[" * MAX_NESTING + "]" * MAX_NESTING)})
            .encode(),
        ),
        ("not UTF-8", b'{"plan_slug": "\xff"}'),
        ("a number of 5,000 digits", b'{"plan_slug": ' + b"9" * 5000 + b"}"),
    ],
)
async def test_absurd_json_is_422_not_500(billing: Billing, name: str, body: bytes) -> None:
    workspace_id, headers = await owner_headers(billing)
    response = await billing.http.post(checkout_url(workspace_id), content=body, headers=headers)
    assert response.status_code == 422, (name, response.text)
    assert response.json()["error"]["code"] == "VALIDATION_ERROR", name


async def test_a_bounded_body_still_buys(billing: Billing) -> None:
    workspace_id, headers = await owner_headers(billing)
    nested = {**PRO_MONTHLY, "extra": json.loads("[" * 10 + "]" * 10)}
    response = await billing.http.post(checkout_url(workspace_id), json=nested, headers=headers)
    assert response.status_code == 200, response.text
