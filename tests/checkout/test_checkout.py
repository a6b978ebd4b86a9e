"""Checkout through HTTP: the session a client gets, what Stripe and the DB record, every error."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.constants import (
    SA_STRIPE_CHECKOUT_SESSION_ID,
    SA_STRIPE_CUSTOMER_ID,
    SA_WORKSPACE_ID,
    checkout_workflow_id,
)
from tests.checkout.conftest import PRO_MONTHLY, Billing, assert_error, checkout_url
from tests.conftest import bearer


async def test_checkout_happy_path_over_real_http(
    billing: Billing, live_api: str, temporal_env: WorkflowEnvironment
) -> None:
    workspace_id, user_id = await billing.workspace()
    key = uuid.uuid4()
    async with httpx.AsyncClient(base_url=live_api) as http:
        response = await http.post(
            checkout_url(workspace_id),
            json={"plan_slug": "business", "interval": "yearly"},
            headers={**bearer(user_id), "Idempotency-Key": str(key)},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"id", "url", "expires_at"}
    assert body["id"].startswith("cs_") and body["url"].startswith("http")

    session = await billing.stripe.v1.checkout.sessions.retrieve_async(body["id"])
    customer = await billing.mapped_customer(workspace_id)
    assert customer is not None and session.customer == customer
    assert session.mode == "subscription"
    assert session.client_reference_id == str(workspace_id)
    assert session.metadata is not None and session.metadata["workspace_id"] == str(workspace_id)
    assert session.success_url == "http://app.test/billing/success?session_id={CHECKOUT_SESSION_ID}"
    assert session.cancel_url == "http://app.test/billing/cancel"
    assert session.expires_at == body["expires_at"]
    items = await billing.stripe.v1.checkout.sessions.line_items.list_async(body["id"])
    variant = await billing.rows(
        "SELECT stripe_price_id FROM plan_variants WHERE plan_slug='business' AND interval='yearly'"
    )
    assert [i.price.id for i in items.data if i.price] == [variant[0]["stripe_price_id"]]

    pending = await billing.rows("SELECT * FROM checkout_sessions WHERE id = :id", id=body["id"])
    assert len(pending) == 1
    assert pending[0]["status"] == "pending"
    assert pending[0]["workspace_id"] == workspace_id
    assert pending[0]["stripe_customer_id"] == customer
    assert (pending[0]["plan_slug"], pending[0]["interval"]) == ("business", "yearly")
    idem = await billing.rows(
        "SELECT * FROM stripe_checkout_idempotency WHERE idempotency_key = :k", k=key
    )
    assert len(idem) == 1
    assert idem[0]["checkout_session_id"] == body["id"]
    assert idem[0]["response"] == body
    assert idem[0]["user_id"] == user_id
    assert (idem[0]["expires_at"] - idem[0]["created_at"]).total_seconds() == pytest.approx(
        86400, abs=5
    )
    assert [e["event_type"] for e in await billing.audit(workspace_id)] == ["recreated"]

    description = await temporal_env.client.get_workflow_handle(
        checkout_workflow_id(str(workspace_id), str(key))
    ).describe()
    attributes = description.typed_search_attributes
    assert attributes.get(SA_WORKSPACE_ID) == str(workspace_id)
    assert attributes.get(SA_STRIPE_CUSTOMER_ID) == customer
    assert attributes.get(SA_STRIPE_CHECKOUT_SESSION_ID) == body["id"]


async def test_second_checkout_validates_the_existing_customer(
    billing: Billing, settings: Settings
) -> None:
    # A configured success URL without the placeholder gets it appended (API and worker
    # share these settings).
    settings.checkout_success_url = "http://app.test/done?from=billing"
    workspace_id, user_id = await billing.workspace(role="admin")
    first = await billing.checkout(workspace_id, user_id, uuid.uuid4())
    session = await billing.stripe.v1.checkout.sessions.retrieve_async(first.json()["id"])
    assert session.success_url == (
        "http://app.test/done?from=billing&session_id={CHECKOUT_SESSION_ID}"
    )
    second = await billing.checkout(
        workspace_id, user_id, uuid.uuid4(), body={"plan_slug": "pro", "interval": "yearly"}
    )
    assert first.status_code == second.status_code == 200, second.text
    assert first.json()["id"] != second.json()["id"]
    assert await billing.created("customers") == 1
    audit = await billing.audit(workspace_id)
    assert [e["event_type"] for e in audit] == ["recreated", "validated"]


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "IDEMPOTENCY_KEY_REQUIRED"),
        ("", "IDEMPOTENCY_KEY_REQUIRED"),
        ("not-a-uuid", "IDEMPOTENCY_KEY_INVALID"),
    ],
)
async def test_idempotency_key_is_required_and_a_uuid(
    billing: Billing, header: str | None, code: str
) -> None:
    workspace_id, user_id = await billing.workspace()
    response = await billing.checkout(workspace_id, user_id, header)
    assert_error(response, 400, code)


async def test_auth_answers(billing: Billing) -> None:
    workspace_id, owner = await billing.workspace()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    response = await billing.http.post(checkout_url(workspace_id), json=PRO_MONTHLY, headers=key)
    assert_error(response, 401, "UNAUTHENTICATED")
    member_ws, member = await billing.workspace(role="member")
    response = await billing.checkout(member_ws, member, uuid.uuid4())
    assert_error(response, 403, "FORBIDDEN")
    response = await billing.checkout(uuid.uuid4(), owner, uuid.uuid4())
    assert_error(response, 404, "WORKSPACE_NOT_FOUND")
    response = await billing.checkout(member_ws, owner, uuid.uuid4())  # not a member there
    assert_error(response, 404, "WORKSPACE_NOT_FOUND")
    assert await billing.created("checkout_sessions") == 0


@pytest.mark.parametrize(
    "body",
    [
        {"plan_slug": "enterprise", "interval": "monthly"},
        {"plan_slug": "pro", "interval": "weekly"},
        {"plan_slug": "free", "interval": "monthly"},
        {"plan_slug": "pro"},
    ],
)
async def test_unknown_plan_or_interval_is_not_available(
    billing: Billing, body: dict[str, Any]
) -> None:
    workspace_id, user_id = await billing.workspace()
    response = await billing.checkout(workspace_id, user_id, uuid.uuid4(), body=body)
    assert_error(response, 422, "PLAN_NOT_AVAILABLE")


async def test_paid_subscription_refuses_a_second_checkout(billing: Billing) -> None:
    workspace_id, user_id = await billing.workspace()
    await billing.execute(
        "INSERT INTO subscriptions (workspace_id, plan_slug, status, stripe_subscription_id) "
        "VALUES (:w, 'pro', 'past_due', :s)",
        w=workspace_id,
        s=f"sub_{uuid.uuid4().hex[:14]}",
    )
    key = uuid.uuid4()
    response = await billing.checkout(workspace_id, user_id, key)
    assert_error(response, 409, "SUBSCRIPTION_ALREADY_ACTIVE")
    # The same key answers the same while the facts are the same; no session was created.
    assert_error(
        await billing.checkout(workspace_id, user_id, key), 409, "SUBSCRIPTION_ALREADY_ACTIVE"
    )
    assert await billing.created("checkout_sessions") == 0
    # A free row is entitled too, but it is no paid subscription.
    free_ws, free_user = await billing.workspace()
    await billing.execute(
        "INSERT INTO subscriptions (workspace_id, plan_slug, status) VALUES (:w, 'free', 'active')",
        w=free_ws,
    )
    assert (await billing.checkout(free_ws, free_user, uuid.uuid4())).status_code == 200
