"""The webhook front door: defined answers for bad input, dedupe from the ledger, retries."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import httpx
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from core.constants import event_workflow_id
from tests.conftest import TEST_DATA_CONVERTER, WEBHOOK_SECRET
from tests.support import eventually, fetch_all
from tests.webhook.conftest import Shop, signed, workspace_state

WEBHOOK = "/api/v1/stripe/webhook"


def fake_event(event_type: str = "customer.subscription.updated", **obj: Any) -> dict[str, Any]:
    event_id = f"evt_test_{uuid.uuid4().hex[:16]}"
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": {"id": f"sub_missing_{event_id[-6:]}", "object": "subscription", **obj}},
    }


async def ledger_row(shop: Shop, event_id: str) -> Any:
    rows = await fetch_all(
        shop.sessions,
        "SELECT status, attempts, last_error, processed_at FROM stripe_webhook_events "
        "WHERE id = :id",
        id=event_id,
    )
    return rows[0] if rows else None


@pytest_asyncio.fixture
async def http(live_api: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_api, timeout=10) as client:
        yield client


async def test_bad_input_gets_its_defined_answer_and_is_not_stored(
    shop: Shop, http: httpx.AsyncClient
) -> None:
    event = fake_event()
    body, headers = signed(event)
    cases: list[tuple[str, bytes, dict[str, str], int, str]] = [
        ("wrong secret", *signed(event, secret="whsec_other"), 400, "INVALID_SIGNATURE"),
        (
            "stale timestamp",
            *signed(event, timestamp=int(time.time()) - 301),
            400,
            "INVALID_SIGNATURE",
        ),
        ("missing header", body, {"Content-Type": "application/json"}, 400, "INVALID_SIGNATURE"),
        (
            "tampered body",
            body.replace(b"customer.", b"customer_"),
            headers,
            400,
            "INVALID_SIGNATURE",
        ),
        ("1 MiB body", *signed(b"{" + b" " * (1 << 20) + b"}"), 413, "PAYLOAD_TOO_LARGE"),
        ("not JSON", *signed(b"this is not json"), 400, "INVALID_PAYLOAD"),
        ("no id", *signed({"type": "invoice.paid", "data": {}}), 400, "INVALID_PAYLOAD"),
        ("no type", *signed({"id": "evt_no_type", "data": {}}), 400, "INVALID_PAYLOAD"),
    ]
    for name, case_body, case_headers, status, code in cases:
        response = await http.post(WEBHOOK, content=case_body, headers=case_headers)
        assert response.status_code == status, name
        assert response.json()["error"]["code"] == code, name
    assert await ledger_row(shop, event["id"]) is None
    assert await ledger_row(shop, "evt_no_type") is None

    # Streamed without Content-Length: refused while counting, not after reading it all.
    big, big_headers = signed(b"[" + b"0," * (300 * 1024) + b"0]")

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    response = await http.post(WEBHOOK, content=chunks(), headers=big_headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_hostile_signature_headers_are_refused_with_400(
    shop: Shop, http: httpx.AsyncClient
) -> None:
    event = fake_event()
    body, headers = signed(event)
    good = headers["Stripe-Signature"]
    t, v1 = (part.split("=", 1)[1] for part in good.split(","))
    hostile: list[tuple[str, bytes]] = [
        ("non-ASCII v1", f"t={t},v1={v1[:-1]}é".encode()),
        ("non-ASCII digit in t", f"t=١{t[1:]},v1={v1}".encode()),
        ("t of 5,000 digits", f"t={'9' * 5000},v1={v1}".encode()),
        ("hundreds of v1", (f"t={t}," + ",".join(["v1=" + "0" * 64] * 300)).encode()),
        ("empty parts", b",,,=,t=,v1="),
        ("no t", f"v1={v1}".encode()),
        ("Latin-1 bytes", b"t=1,v1=\xff\xfe"),
    ]
    for name, value in hostile:
        # Raw bytes on the wire, as a hostile client would send them.
        response = await http.post(
            WEBHOOK,
            content=body,
            headers=[(b"Content-Type", b"application/json"), (b"Stripe-Signature", value)],
        )
        assert response.status_code == 400, name
        assert response.json()["error"]["code"] == "INVALID_SIGNATURE", name
    # A body that is not UTF-8 with a header that signs it: refused, not a 500.
    raw, stamp = b'{"id": "\xff"}', str(int(time.time()))
    mac = hmac.new(WEBHOOK_SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256)
    response = await http.post(
        WEBHOOK, content=raw, headers={"Stripe-Signature": f"t={stamp},v1={mac.hexdigest()}"}
    )
    assert response.status_code == 400
    assert await ledger_row(shop, event["id"]) is None


async def test_unhandled_type_is_ignored_without_a_workflow(
    shop: Shop, http: httpx.AsyncClient, temporal_env: WorkflowEnvironment
) -> None:
    event = fake_event("customer.updated")
    for duplicate in (False, True):
        response = await http.post(WEBHOOK, content=signed(event)[0], headers=signed(event)[1])
        assert response.status_code == 200
        assert response.json() == {"received": True, "duplicate": duplicate}
    row = await ledger_row(shop, event["id"])
    assert row.status == "ignored" and row.processed_at is not None and row.attempts == 0
    with pytest.raises(RPCError):
        await temporal_env.client.get_workflow_handle(event_workflow_id(event["id"])).describe()


async def test_refused_event_fails_visibly_and_a_redelivery_reruns_it(
    shop: Shop, http: httpx.AsyncClient, billing_worker: Any, temporal_env: WorkflowEnvironment
) -> None:
    event = fake_event()  # names a subscription Stripe does not know: a 404, not retryable
    body, headers = signed(event)
    response = await http.post(WEBHOOK, content=body, headers=headers)
    assert response.json() == {"received": True, "duplicate": False}
    row = await eventually(lambda: ledger_row(shop, event["id"]), lambda r: r.status == "failed")
    assert row.attempts == 1 and "StripeInvalidRequestError" in row.last_error
    handle = temporal_env.client.get_workflow_handle(event_workflow_id(event["id"]))
    # The row is marked failed just before the workflow itself fails: wait for that too.
    await eventually(handle.describe, lambda d: d.status == WorkflowExecutionStatus.FAILED)

    response = await http.post(WEBHOOK, content=body, headers=headers)
    assert response.json() == {"received": True, "duplicate": True}
    row = await eventually(
        lambda: ledger_row(shop, event["id"]), lambda r: r.status == "failed" and r.attempts == 2
    )


async def test_transient_stripe_errors_are_retried_to_completion(
    shop: Shop, live_api: str, billing_worker: Any
) -> None:
    buyer = await shop.buyer()
    await shop.control(
        "config",
        {
            "api_faults": [
                {"path": "/v1/subscriptions/*", "method": "GET", "mode": "500", "count": 2}
            ]
        },
    )
    await shop.checkout(buyer, "pro", "monthly")
    await shop.settled(buyer.workspace_id, timeout=30)
    state = await workspace_state(shop.sessions, buyer.workspace_id)
    assert state["plan"] == "pro"
    fired = (await shop.control_get("state"))["api_faults_fired"]
    assert fired == 2
    # Retries inside one run of an event's workflow are one attempt of that event.
    attempts = await fetch_all(
        shop.sessions,
        "SELECT attempts FROM stripe_webhook_events WHERE id = ANY(:ids) AND status = 'completed'",
        ids=[e["id"] for e in await shop.events()],
    )
    assert attempts and {row.attempts for row in attempts} == {1}


async def test_duplicates_of_completed_events_never_touch_temporal(
    shop: Shop, live_api: str, billing_worker: Any, settings: Settings
) -> None:
    buyer = await shop.buyer()
    await shop.checkout(buyer, "pro", "monthly")
    await shop.settled(buyer.workspace_id)
    [created] = [e for e in await shop.events() if e["type"] == "customer.subscription.created"]

    # An API whose Temporal is unreachable: any Temporal call would turn into a 503.
    dead = settings.model_copy(update={"temporal_address": "127.0.0.1:9"})
    app = create_app(dead)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            body, headers = signed(created)
            response = await client.post(WEBHOOK, content=body, headers=headers)
            assert response.status_code == 200
            assert response.json() == {"received": True, "duplicate": True}
            # A new handled event is durable once stored: 200, and the row waits, pending,
            # for the worker's dispatcher (Temporal unreachable from this API).
            fresh = fake_event()
            response = await client.post(
                WEBHOOK, content=signed(fresh)[0], headers=signed(fresh)[1]
            )
            assert response.status_code == 200
    row = await ledger_row(shop, created["id"])
    assert (row.status, row.attempts) == ("completed", 1)
    assert (await ledger_row(shop, fresh["id"])).status == "pending"


async def test_an_older_event_is_counted_and_the_fresh_state_wins(
    shop: Shop, http: httpx.AsyncClient, billing_worker: Any
) -> None:
    buyer = await shop.buyer()
    await shop.control("webhooks/pause")
    _, sub_id = await shop.checkout(buyer, "pro", "monthly")
    await shop.update(sub_id, status="past_due")
    events = await shop.events()
    [created] = [e for e in events if e["type"] == "customer.subscription.created"]
    [updated] = [e for e in events if e["type"] == "customer.subscription.updated"]
    created["created"] = updated["created"] - 60  # delivered long after the newer one

    def counted() -> float:
        value = REGISTRY.get_sample_value(
            "billing_webhook_out_of_order_total",
            {"event_type": "customer.subscription.created"},
        )
        return value or 0.0

    before = counted()
    for event in (updated, created):
        response = await http.post(WEBHOOK, content=signed(event)[0], headers=signed(event)[1])
        assert response.status_code == 200
        await eventually(partial(ledger_row, shop, event["id"]), lambda r: r.status == "completed")
    assert counted() == before + 1
    state = await workspace_state(shop.sessions, buyer.workspace_id)
    [row] = [r for r in state["rows"] if r["stripe_subscription_id"] == sub_id]
    assert row["status"] == "past_due" and state["plan"] == "pro"


async def test_redelivery_of_a_started_event_skips_temporal_unless_it_failed(
    shop: Shop, settings: Settings, temporal_env: WorkflowEnvironment
) -> None:
    from temporalio.client import Client


    app = create_app(settings)  # no worker runs: started workflows stay pending
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            event = fake_event()
            body, headers = signed(event)
            first = await client.post(WEBHOOK, content=body, headers=headers)
            assert first.json() == {"received": True, "duplicate": False}
            handle = temporal_env.client.get_workflow_handle(event_workflow_id(event["id"]))
            # The start runs beside the answer: the workflow appears moments later.
            described = await eventually(lambda: _describe(handle), lambda d: d is not None)
            assert described.status == WorkflowExecutionStatus.RUNNING

            # From now on any Temporal call of this API fails: a redelivery must not make one.
            app.state.temporal = await Client.connect(
                "127.0.0.1:9", lazy=True, data_converter=TEST_DATA_CONVERTER
            )
            again = await client.post(WEBHOOK, content=body, headers=headers)
            assert again.status_code == 200
            assert again.json() == {"received": True, "duplicate": True}

            # A failed event is always started again, so that it re-runs: here the start,
            # after the answer, finds Temporal away and notes it on the row.
            async with shop.sessions() as session, session.begin():
                from sqlalchemy import text

                await session.execute(
                    text("UPDATE stripe_webhook_events SET status = 'failed' WHERE id = :id"),
                    {"id": event["id"]},
                )
            failed = await client.post(WEBHOOK, content=body, headers=headers)
            assert failed.status_code == 200
            row = await eventually(lambda: ledger_row(shop, event["id"]), lambda r: r.last_error)
            assert row.status == "failed"
            await handle.terminate()


async def _describe(handle: Any) -> Any:
    try:
        return await handle.describe()
    except RPCError:
        return None


def test_recently_started_forgets_after_ttl_and_capacity() -> None:
    from api.started_events import RecentlyStarted

    started = RecentlyStarted(capacity=2, ttl_seconds=60)
    for event_id in ("evt_1", "evt_2", "evt_3"):
        started.add(event_id)
    assert "evt_1" not in started  # evicted: oldest first
    assert "evt_2" in started and "evt_3" in started
    expired = RecentlyStarted(ttl_seconds=-1)
    expired.add("evt_4")
    assert "evt_4" not in expired
