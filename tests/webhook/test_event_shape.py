"""The door refuses what Stripe never sends (ids and types not of its shape) and nothing it does
send: a handled event with an absent or absurd object id is kept `ignored` and answered 200."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from stripe import api_version
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.constants import event_workflow_id
from rules.event_shape import event_problem, ignored_reason
from tests.support import eventually, fetch_all
from tests.webhook.conftest import Shop, signed

WEBHOOK = "/api/v1/stripe/webhook"


def event(event_id: str, event_type: str = "customer.subscription.updated", **obj: Any) -> Any:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": {"object": "subscription", **obj}},
    }


def fresh_id(length: int = 28) -> str:
    return ("evt_" + uuid.uuid4().hex * 10)[:length]


async def stored(shop: Shop, event_id: str) -> Any:
    rows = await fetch_all(
        shop.sessions,
        "SELECT status, reason, attempts, processed_at FROM stripe_webhook_events WHERE id = :id",
        id=event_id,
    )
    return rows[0] if rows else None


@pytest.mark.parametrize(
    ("name", "event_id", "event_type"),
    [
        ("10,000-character id", "evt_" + "x" * 9996, "invoice.paid"),
        ("129-character id", "e" * 129, "invoice.paid"),
        ("id with a dash", "evt-123", "invoice.paid"),
        ("id with a non-ASCII letter", "evt_é", "invoice.paid"),
        ("id with a NUL", "evt_\x00", "invoice.paid"),
        ("empty id", "", "invoice.paid"),
        ("numeric id", 12345, "invoice.paid"),
        ("upper-case type", None, "Invoice.Paid"),
        ("129-character type", None, "a" * 129),
        ("type with a slash", None, "invoice/paid"),
        ("type that is a list", None, ["invoice.paid"]),
    ],
)
async def test_ids_and_types_stripe_never_sends_are_refused_before_storage(
    shop: Shop, client: httpx.AsyncClient, name: str, event_id: Any, event_type: Any
) -> None:
    refused = event(fresh_id() if event_id is None else event_id, event_type, id="sub_1")
    body, headers = signed(refused)
    response = await client.post(WEBHOOK, content=body, headers=headers)
    assert response.status_code == 400, name
    assert response.json()["error"]["code"] == "INVALID_PAYLOAD", name
    if isinstance(refused["id"], str) and "\x00" not in refused["id"]:
        assert await stored(shop, refused["id"]) is None, name


async def test_a_nul_anywhere_is_refused_not_a_503(shop: Shop, client: httpx.AsyncClient) -> None:
    # jsonb refuses U+0000: storing such a verified body was a 503, retried by Stripe for days.
    nul = event(fresh_id(), "customer.updated", id="cus_1", metadata={"note": "a\x00b"})
    response = await client.post(WEBHOOK, content=signed(nul)[0], headers=signed(nul)[1])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_PAYLOAD"
    assert await stored(shop, nul["id"]) is None


async def test_the_longest_stripe_shaped_id_is_stored(
    shop: Shop, client: httpx.AsyncClient, temporal_env: WorkflowEnvironment
) -> None:
    longest = event(fresh_id(128), "customer.updated", id="cus_1")
    response = await client.post(WEBHOOK, content=signed(longest)[0], headers=signed(longest)[1])
    assert response.json() == {"received": True, "duplicate": False}
    row = await stored(shop, longest["id"])
    assert (row.status, row.reason) == ("ignored", "unhandled_type")


@pytest.mark.parametrize(
    ("name", "obj"),
    [
        ("absent id", {}),
        ("null id", {"id": None}),
        ("numeric id", {"id": 42}),
        ("object id", {"id": {"id": "sub_1"}}),
        ("256-character id", {"id": "sub_" + "a" * 252}),
        ("id with spaces", {"id": "sub 1"}),
        ("path traversal", {"id": "../v1/customers"}),
    ],
)
async def test_a_handled_event_with_an_absurd_object_is_kept_ignored_and_answered_200(
    shop: Shop,
    client: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    name: str,
    obj: dict[str, Any],
) -> None:
    absurd = event(fresh_id(), "customer.subscription.updated")
    absurd["data"]["object"] = {"object": "subscription", **obj}
    body, headers = signed(absurd)
    for duplicate in (False, True):  # Stripe's retries get the same answer
        response = await client.post(WEBHOOK, content=body, headers=headers)
        assert response.status_code == 200, name
        assert response.json() == {"received": True, "duplicate": duplicate}, name
    row = await stored(shop, absurd["id"])
    assert (row.status, row.reason, row.attempts) == ("ignored", "invalid_object", 0), name
    assert row.processed_at is not None  # final: cleaned like completed rows
    # Never started: a workflow could only fail on it.
    with pytest.raises(RPCError):
        await temporal_env.client.get_workflow_handle(event_workflow_id(absurd["id"])).describe()


async def test_an_event_without_data_is_ignored_not_refused(
    shop: Shop, client: httpx.AsyncClient
) -> None:
    bare = {"id": fresh_id(), "object": "event", "type": "invoice.paid"}
    response = await client.post(WEBHOOK, content=signed(bare)[0], headers=signed(bare)[1])
    assert response.status_code == 200
    assert (await stored(shop, bare["id"])).reason == "invalid_object"


def test_shape_rules_match_stripe_ids_and_types() -> None:
    assert event_problem({"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "type": "invoice.paid"}) is None
    assert event_problem({"id": "evt_1", "type": "v1.billing.meter.no_meter_found"}) is None
    assert event_problem({"id": "evt_1", "type": "invoice.paid "}) is not None
    assert event_problem({"type": "invoice.paid"}) is not None
    handled = {"id": "evt_1", "type": "invoice.paid", "data": {"object": {"id": "in_1"}}}
    assert ignored_reason(handled) is None
    assert ignored_reason({**handled, "type": "charge.succeeded"}) == "unhandled_type"
    assert ignored_reason({**handled, "data": {"object": {"id": "in_" + "1" * 253}}}) is not None
    assert ignored_reason({**handled, "data": {"object": {"id": "in_" + "1" * 252}}}) is None


async def test_another_api_version_is_processed_and_counted(
    shop: Shop, client: httpx.AsyncClient, billing_worker: Any
) -> None:
    buyer = await shop.buyer()
    await shop.control("webhooks/pause")
    _, subscription_id = await shop.checkout(buyer)
    [created] = [e for e in await shop.events() if e["type"] == "customer.subscription.created"]
    created["api_version"] = "2025-03-31.basil"  # an endpoint pinned to an older version

    def mismatches(version: str) -> float:
        value = REGISTRY.get_sample_value(
            "billing_webhook_api_version_mismatch_total", {"api_version": version}
        )
        return value or 0.0

    before = mismatches("2025-03-31.basil")
    response = await client.post(WEBHOOK, content=signed(created)[0], headers=signed(created)[1])
    assert response.status_code == 200
    assert mismatches("2025-03-31.basil") == before + 1

    async def status() -> list[Any]:
        return await fetch_all(
            shop.sessions,
            "SELECT status FROM subscriptions WHERE stripe_subscription_id = :s",
            s=subscription_id,
        )

    # Still applied: the handler re-fetches the subscription in our own version.
    await eventually(status, lambda found: [r.status for r in found] == ["active"])
    # The configured version (STRIPE_API_VERSION, by default the SDK's) is not a mismatch.
    own = {**created, "id": fresh_id(), "type": "customer.updated", "api_version": api_version}
    counted = mismatches(api_version)
    assert (await client.post(WEBHOOK, content=signed(own)[0], headers=signed(own)[1])).is_success
    assert mismatches(api_version) == counted


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("nested past the recursion limit", b"[" * 5000 + b"]" * 5000),
        ("NaN, which is not JSON", b'{"id": "evt_nan", "type": "invoice.paid", "created": NaN}'),
        ("a lone surrogate", b'{"id": "evt_sur", "type": "invoice.paid", "note": "\\ud800"}'),
    ],
)
async def test_json_that_python_reads_but_jsonb_refuses_is_400_not_503(
    shop: Shop, client: httpx.AsyncClient, name: str, body: bytes
) -> None:
    # Deep nesting was a 500; NaN and lone surrogates a 503 that Stripe would retry for days.
    response = await client.post(WEBHOOK, content=body, headers=signed(body)[1])
    assert response.status_code == 400, name
    assert response.json()["error"]["code"] == "INVALID_PAYLOAD", name


@pytest.mark.parametrize("created", [True, 10**30, -5, "1700000000"])
async def test_a_created_stripe_would_never_send_is_dropped_not_a_503(
    shop: Shop, client: httpx.AsyncClient, created: Any
) -> None:
    odd = {**event(fresh_id(), "customer.updated", id="cus_1"), "created": created}
    response = await client.post(WEBHOOK, content=signed(odd)[0], headers=signed(odd)[1])
    assert response.status_code == 200
    [row] = await fetch_all(
        shop.sessions,
        "SELECT stripe_created_at FROM stripe_webhook_events WHERE id = :id",
        id=odd["id"],
    )
    assert row.stripe_created_at is None
