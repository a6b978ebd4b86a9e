"""The read routes: the newest committed version for members and the service token, ETag and
304, one grant's answer, and the contract's refusals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from tests.conftest import bearer, create_workspace
from tests.entitlements.conftest import SERVICE_TOKEN
from tests.entitlements.support import paid_row, refresh
from tests.support import execute

SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def url(workspace_id: uuid.UUID, grant: str = "") -> str:
    return f"/api/v1/stripe/workspaces/{workspace_id}/entitlements" + (f"/{grant}" if grant else "")


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def test_a_workspace_never_billed_reads_as_the_free_plan_at_version_zero(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    workspace_id, member = await create_workspace(sessions, role="member")
    response = await client.get(url(workspace_id), headers=bearer(member))
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"0"'
    body = response.json()
    assert (body["version"], body["plan"], body["status"], body["grants"]) == (
        0,
        "free",
        "active",
        {},
    )
    assert body["effective_until"] is None and body["interval"] is None
    seats = await client.get(url(workspace_id, "seats"), headers=bearer(member))
    assert seats.json() == {"allowed": False, "value": None, "reason": "not_in_plan", "until": None}
    service = await client.get(url(workspace_id), headers=SERVICE)
    assert (service.status_code, service.json()) == (200, body)


async def test_the_service_token_reads_the_newest_version_with_an_etag(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    price = await paid_row(sessions, workspace_id)
    await refresh(sessions, workspace_id, {"seats": 5, "sso": False}, price)
    await refresh(sessions, workspace_id, {"seats": 10, "sso": False}, price)
    response = await client.get(url(workspace_id), headers=SERVICE)
    assert response.status_code == 200 and response.headers["etag"] == '"2"'
    body = response.json()
    assert (body["version"], body["plan"], body["interval"]) == (2, "pro", "monthly")
    assert body["grants"] == {"seats": 10, "sso": False} and body["cause"] == "evt_test"

    for tag, status in (('"2"', 304), ('W/"2"', 304), ('"1", "2"', 304), ("*", 304), ('"1"', 200)):
        again = await client.get(url(workspace_id), headers={**SERVICE, "If-None-Match": tag})
        assert again.status_code == status, tag
        assert again.headers["etag"] == '"2"'
        assert (again.content == b"") is (status == 304)

    seats = (await client.get(url(workspace_id, "seats"), headers=SERVICE)).json()
    assert seats == {"allowed": True, "value": 10, "reason": "granted", "until": None}
    sso = (await client.get(url(workspace_id, "sso"), headers=SERVICE)).json()
    assert (sso["allowed"], sso["reason"]) == (False, "not_in_plan")
    unknown = (await client.get(url(workspace_id, "no-such-grant"), headers=SERVICE)).json()
    assert unknown == {"allowed": False, "value": None, "reason": "not_in_plan", "until": None}


async def test_grace_and_a_cancellation_bound_the_answer(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    workspace_id, owner = await create_workspace(sessions)
    period_end = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    grace_end = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    price = await paid_row(
        sessions, workspace_id, status="past_due", period_end=period_end, grace_end=grace_end
    )
    await refresh(sessions, workspace_id, {"seats": 5}, price)
    seats = (await client.get(url(workspace_id, "seats"), headers=bearer(owner))).json()
    assert (seats["allowed"], seats["reason"]) == (True, "grace")
    assert datetime.fromisoformat(seats["until"]) == grace_end

    await execute(
        sessions,
        "UPDATE subscriptions SET status = 'active', grace_period_end = NULL, "
        "cancel_at_period_end = true WHERE stripe_price_id = :p",
        p=price,
    )
    await refresh(sessions, workspace_id, {"seats": 5}, price)
    body = (await client.get(url(workspace_id), headers=bearer(owner))).json()
    assert (body["version"], body["in_grace"]) == (2, False)
    assert datetime.fromisoformat(body["effective_until"]) == period_end
    seats = (await client.get(url(workspace_id, "seats"), headers=bearer(owner))).json()
    assert (seats["reason"], datetime.fromisoformat(seats["until"])) == ("granted", period_end)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-service-token"},
        {"Authorization": f"Bearer {SERVICE_TOKEN}x"},
        {"Authorization": f"Basic {SERVICE_TOKEN}"},
    ],
    ids=["missing", "wrong", "longer", "not-bearer"],
)
async def test_a_wrong_or_missing_token_is_401(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], headers: dict[str, str]
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    for path in (url(workspace_id), url(workspace_id, "seats")):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401 and error_code(response) == "UNAUTHENTICATED"


async def test_strangers_and_unknown_workspaces_are_404(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    stranger = bearer(uuid.uuid4())
    for path in (url(workspace_id), url(workspace_id, "seats")):
        response = await client.get(path, headers=stranger)
        assert response.status_code == 404 and error_code(response) == "WORKSPACE_NOT_FOUND"
    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        response = await client.get(
            f"/api/v1/stripe/workspaces/{missing}/entitlements", headers=SERVICE
        )
        assert response.status_code == 404 and error_code(response) == "WORKSPACE_NOT_FOUND"
