"""Stale customer mappings heal themselves (seed 002 §5, the runbook of §8), through HTTP."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.checkout.conftest import Billing, assert_error, poll
from tests.webhook.conftest import signed

OTHER_PLAN = {"plan_slug": "business", "interval": "monthly"}


async def _checkout_once(billing: Billing) -> tuple[uuid.UUID, uuid.UUID, str]:
    workspace_id, user_id = await billing.workspace()
    response = await billing.checkout(workspace_id, user_id, uuid.uuid4())
    assert response.status_code == 200, response.text
    customer = await billing.mapped_customer(workspace_id)
    assert customer is not None
    return workspace_id, user_id, customer


@pytest.mark.parametrize("mode", ["deleted", "missing"])
async def test_silently_deleted_customer_is_replaced_under_concurrency(
    billing: Billing, mode: str
) -> None:
    workspace_id, user_id, old = await _checkout_once(billing)
    await billing.control(f"customers/{old}/delete-silently", {"mode": mode})
    customers_before = await billing.created("customers")

    # Several checkouts at once, each with its own key: exactly one new customer.
    bodies = [
        {"plan_slug": p, "interval": i} for p in ("pro", "business") for i in ("monthly", "yearly")
    ]
    responses = await asyncio.gather(
        *(billing.checkout(workspace_id, user_id, uuid.uuid4(), body=b) for b in bodies)
    )
    assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
    assert await billing.created("customers") == customers_before + 1
    new = await billing.mapped_customer(workspace_id)
    assert new is not None and new != old
    for response in responses:
        session = await billing.stripe.v1.checkout.sessions.retrieve_async(response.json()["id"])
        assert session.customer == new

    audit = await billing.audit(workspace_id)
    kinds = [e["event_type"] for e in audit]
    assert kinds.count("invalidated") == kinds.count("recreated") - 1 == 1
    invalidated = kinds.index("invalidated")
    assert kinds[invalidated + 1] == "recreated"
    assert audit[invalidated]["old_stripe_customer_id"] == old
    assert audit[invalidated]["reason"] == f"customer_{mode}"
    recreated = audit[invalidated + 1]
    assert (recreated["old_stripe_customer_id"], recreated["new_stripe_customer_id"]) == (old, new)
    # The other requests validated the replacement rather than making their own.
    assert kinds[invalidated + 2 :] == ["validated"] * 3


async def test_session_refused_for_missing_customer_remaps_and_retries_once(
    billing: Billing,
) -> None:
    workspace_id, user_id, old = await _checkout_once(billing)
    # Stripe is slow to create the session; the customer vanishes meanwhile.
    await billing.control(
        "config",
        {
            "api_faults": [
                {
                    "path": "/v1/checkout/sessions",
                    "method": "POST",
                    "mode": "slow",
                    "count": 1,
                    "delay": 1.5,
                }
            ]
        },
    )
    # Another plan than the first checkout's, so a new session is created (the same plan
    # would be answered with the open session).
    pending = asyncio.create_task(
        billing.checkout(workspace_id, user_id, uuid.uuid4(), body=OTHER_PLAN)
    )
    await poll(billing.faults_fired)
    await billing.control(f"customers/{old}/delete-silently")
    response = await pending
    assert response.status_code == 200, response.text
    new = await billing.mapped_customer(workspace_id)
    assert new not in (None, old)
    session = await billing.stripe.v1.checkout.sessions.retrieve_async(response.json()["id"])
    assert session.customer == new
    audit = await billing.audit(workspace_id)
    assert [(e["event_type"], e["reason"]) for e in audit[-3:]] == [
        ("validated", None),
        ("invalidated", "session_refused_customer"),
        ("recreated", "session_refused_customer"),
    ]


async def test_second_missing_customer_refusal_is_502(billing: Billing) -> None:
    workspace_id, user_id, old = await _checkout_once(billing)
    await billing.control(
        "config",
        {
            "api_faults": [
                {
                    "path": "/v1/checkout/sessions",
                    "method": "POST",
                    "mode": "slow",
                    "count": 2,
                    "delay": 1.5,
                }
            ]
        },
    )
    key = uuid.uuid4()
    pending = asyncio.create_task(billing.checkout(workspace_id, user_id, key, body=OTHER_PLAN))
    await poll(billing.faults_fired)
    await billing.control(f"customers/{old}/delete-silently")

    async def remapped() -> str | None:
        current = await billing.mapped_customer(workspace_id)
        return current if current != old and await billing.faults_fired() == 2 else None

    replacement = await poll(remapped)
    await billing.control(f"customers/{replacement}/delete-silently")
    assert_error(await pending, 502, "STRIPE_CHECKOUT_SESSION_FAILED")
    # The same key is safe to retry: the next attempt heals the mapping again and succeeds.
    retry = await billing.checkout(workspace_id, user_id, key, body=OTHER_PLAN)
    assert retry.status_code == 200, retry.text
    assert await billing.mapped_customer(workspace_id) not in (old, replacement)


async def test_customer_deleted_webhook_before_the_stale_checkout_gets_a_new_customer(
    billing: Billing,
) -> None:
    # The workspace's first checkout creates its customer, then Stripe is slow with the session.
    workspace_id, user_id = await billing.workspace()
    await billing.control(
        "config",
        {
            "api_faults": [
                {
                    "path": "/v1/checkout/sessions",
                    "method": "POST",
                    "mode": "slow",
                    "count": 1,
                    "delay": 4.0,
                }
            ]
        },
    )
    pending = asyncio.create_task(billing.checkout(workspace_id, user_id, uuid.uuid4()))
    await poll(billing.faults_fired)
    first = await billing.mapped_customer(workspace_id)
    assert first is not None
    # Meanwhile the customer is deleted in Stripe and its webhook applied: no mapping is left.
    await billing.stripe.v1.customers.delete_async(first)
    events = await billing.stripe.v1.events.list_async({"type": "customer.deleted"})
    [deleted] = [e.to_dict(for_json=True) for e in events.data if e.data.object.id == first]
    body, headers = signed(deleted)
    delivered = await billing.http.post("/api/v1/stripe/webhook", content=body, headers=headers)
    assert delivered.is_success

    # The slow session create holds the workspace's billing lock; the deletion's apply
    # queues behind it (claimed, waiting) before the create is refused, so it is applied
    # before the checkout's remap, which queues later.
    async def claimed() -> bool:
        rows = await billing.rows(
            "SELECT status FROM stripe_webhook_events WHERE id = :id", id=deleted["id"]
        )
        return bool(rows) and rows[0]["status"] in ("processing", "completed")

    await poll(claimed)

    async def deletion_applied() -> bool:
        # Its audit row, not the mapping: the checkout's remap may map a new customer a
        # moment after the deletion dropped the old one.
        audit = await billing.audit(workspace_id)
        return any(
            e["event_type"] == "webhook_deleted" and e["old_stripe_customer_id"] == first
            for e in audit
        )

    await poll(deletion_applied)

    # The session is refused for the deleted customer: the remap replaces *that* customer,
    # so Stripe's idempotency never hands the deleted one back.
    response = await pending
    assert response.status_code == 200, response.text
    new = await billing.mapped_customer(workspace_id)
    assert new not in (None, first)
    session = await billing.stripe.v1.checkout.sessions.retrieve_async(response.json()["id"])
    assert session.customer == new
    audit = [
        (e["event_type"], e["old_stripe_customer_id"], e["new_stripe_customer_id"], e["reason"])
        for e in await billing.audit(workspace_id)
    ]
    assert audit == [
        ("recreated", None, first, "no_mapping"),
        ("webhook_deleted", first, None, "customer.deleted webhook"),
        ("recreated", first, new, "session_refused_customer"),
    ]


async def test_a_workspace_name_stripe_would_refuse_is_cut_for_the_customer(
    billing: Billing,
) -> None:
    workspace_id, user_id = await billing.workspace()
    long_name = "Ω" + "Acme Research and Development " * 12  # 361 characters
    await billing.execute(
        "UPDATE workspaces SET name = :n WHERE id = :w", n=long_name, w=workspace_id
    )
    response = await billing.checkout(workspace_id, user_id, uuid.uuid4())
    assert response.status_code == 200, response.text
    customer = await billing.stripe.v1.customers.retrieve_async(
        str(await billing.mapped_customer(workspace_id))
    )
    assert customer.name == long_name[:256]
