"""Billing Portal sessions through HTTP: configuration, customer self-heal, failures."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.constants import SA_STRIPE_CUSTOMER_ID, SA_WORKSPACE_ID, portal_workflow_id
from tests.checkout.conftest import Billing, assert_error

CONFIGURATION = "bpc_portaltest000000000001"


async def portal_session(emulator_server: Any, url: str) -> dict[str, Any]:
    """What Stripe (the emulator) holds for the portal session behind `url`."""
    session_id = url.rstrip("/").rsplit("/", 1)[-1]
    session: dict[str, Any] = await emulator_server.call(
        lambda emu: dict(emu.store.tables["portal_sessions"][session_id])
    )
    return session


async def test_portal_happy_path_with_configuration(
    billing: Billing,
    settings: Settings,
    emulator_server: Any,
    temporal_env: WorkflowEnvironment,
) -> None:
    # The API and the worker of this test share these settings.
    settings.stripe_billing_portal_configuration_id = CONFIGURATION
    workspace_id, user_id = await billing.workspace(role="admin")
    request_id = str(uuid.uuid4())
    response = await billing.portal(workspace_id, user_id, {"X-Request-Id": request_id})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"url"}
    customer = await billing.mapped_customer(workspace_id)
    assert customer is not None
    session = await portal_session(emulator_server, response.json()["url"])
    assert session["customer"] == customer
    assert session["configuration"] == CONFIGURATION
    assert session["return_url"] == settings.billing_portal_return_url
    attributes = (
        await temporal_env.client.get_workflow_handle(
            portal_workflow_id(str(workspace_id), request_id)
        ).describe()
    ).typed_search_attributes
    assert attributes.get(SA_WORKSPACE_ID) == str(workspace_id)
    # Search attributes bypass the payload codec: the portal keeps its customer encrypted.
    assert attributes.get(SA_STRIPE_CUSTOMER_ID) is None
    # A second request reuses and validates the same customer.
    again = await billing.portal(workspace_id, user_id)
    assert again.status_code == 200, again.text
    assert (await portal_session(emulator_server, again.json()["url"]))["customer"] == customer
    assert await billing.created("customers") == 1
    assert [e["event_type"] for e in await billing.audit(workspace_id)] == [
        "recreated",
        "validated",
    ]


async def test_portal_heals_a_stale_customer(billing: Billing, emulator_server: Any) -> None:
    workspace_id, user_id = await billing.workspace()
    assert (await billing.portal(workspace_id, user_id)).status_code == 200
    old = await billing.mapped_customer(workspace_id)
    await billing.control(f"customers/{old}/delete-silently")
    response = await billing.portal(workspace_id, user_id)
    assert response.status_code == 200, response.text
    new = await billing.mapped_customer(workspace_id)
    assert new not in (None, old)
    assert (await portal_session(emulator_server, response.json()["url"]))["customer"] == new
    audit = await billing.audit(workspace_id)
    assert [
        (e["event_type"], e["old_stripe_customer_id"], e["new_stripe_customer_id"])
        for e in audit[-2:]
    ] == [("invalidated", old, None), ("recreated", old, new)]


async def test_portal_failure_is_502_and_auth_is_checked(billing: Billing) -> None:
    workspace_id, user_id = await billing.workspace()
    await billing.control(
        "config",
        {
            "api_faults": [
                {
                    "path": "/v1/billing_portal/sessions",
                    "method": "POST",
                    "mode": "500",
                    "count": 100,
                }
            ]
        },
    )
    assert_error(await billing.portal(workspace_id, user_id), 502, "STRIPE_PORTAL_SESSION_FAILED")
    await billing.control("config", {"api_faults": []})
    member_ws, member = await billing.workspace(role="member")
    assert_error(await billing.portal(member_ws, member), 403, "FORBIDDEN")
    assert_error(await billing.portal(uuid.uuid4(), user_id), 404, "WORKSPACE_NOT_FOUND")
    response = await billing.http.post(f"/api/v1/stripe/workspaces/{workspace_id}/portal-session")
    assert_error(response, 401, "UNAUTHENTICATED")
