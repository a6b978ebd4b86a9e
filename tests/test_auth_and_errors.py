"""Bearer auth, workspace roles and the one error body, through HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import workspace_access
from api.errors import ApiError
from api.main import create_app
from core.config import Settings
from core.tokens import mint_token
from tests.conftest import ADMIN_TOKEN, JWT_SECRET, bearer, create_workspace

CHECKOUT_PATH = "/api/v1/stripe/workspaces/{workspace_id}/checkout-session"


def billing_url(workspace_id: uuid.UUID | str) -> str:
    return f"/api/v1/stripe/workspaces/{workspace_id}/billing"


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


async def test_member_reads_billing_status(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    workspace_id, user_id = await create_workspace(sessions, role="member")
    response = await client.get(billing_url(workspace_id), headers=bearer(user_id))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["workspace_id"] == str(workspace_id)
    assert body["plan"] == "free"
    assert body["pending_checkout"] is None


async def test_no_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(billing_url(uuid.uuid4()))
    assert_error(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer not-a-jwt", "token"])
async def test_malformed_authorization_is_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get(billing_url(uuid.uuid4()), headers={"Authorization": header})
    assert_error(response, 401, "UNAUTHENTICATED")


async def test_bad_signature_is_401(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    workspace_id, user_id = await create_workspace(sessions)
    response = await client.get(
        billing_url(workspace_id), headers=bearer(user_id, secret="another-secret-" + "y" * 32)
    )
    assert_error(response, 401, "UNAUTHENTICATED")


async def test_expired_token_is_401(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    workspace_id, user_id = await create_workspace(sessions)
    # Past the clock-skew leeway (AUTH_JWT_LEEWAY_SECONDS, 30 s by default).
    token = mint_token(JWT_SECRET, user_id, ttl=timedelta(seconds=-45))
    response = await client.get(
        billing_url(workspace_id), headers={"Authorization": f"Bearer {token}"}
    )
    assert_error(response, 401, "UNAUTHENTICATED")


async def test_non_member_gets_404_like_a_missing_workspace(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    workspace_id, _ = await create_workspace(sessions)
    outsider = uuid.uuid4()
    foreign = await client.get(billing_url(workspace_id), headers=bearer(outsider))
    missing = await client.get(billing_url(uuid.uuid4()), headers=bearer(outsider))
    garbage = await client.get(billing_url("not-a-uuid"), headers=bearer(outsider))
    for response in (foreign, missing, garbage):
        assert_error(response, 404, "WORKSPACE_NOT_FOUND")


async def test_member_role_cannot_manage_billing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    workspace_id, member = await create_workspace(sessions, role="member")
    async with sessions() as session:
        with pytest.raises(ApiError) as raised:
            await workspace_access(session, workspace_id, member, ("owner", "admin"))
    assert (raised.value.status_code, raised.value.code) == (403, "FORBIDDEN")


async def test_unknown_route_and_method_use_the_error_body(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/nowhere"), 404, "NOT_FOUND")
    assert_error(await client.delete("/healthz"), 405, "METHOD_NOT_ALLOWED")


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/stripe/workspaces/{workspace_id}/billing" in response.json()["paths"]
    assert (await client.get("/docs")).status_code == 200


def admin_requests(workspace_id: uuid.UUID) -> list[tuple[str, str]]:
    return [
        ("POST", "/api/v1/stripe/catalog/sync"),
        ("GET", f"/api/v1/stripe/workspaces/{workspace_id}/trace"),
    ]


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token", f"Basic {ADMIN_TOKEN}", "Bearer", f"{ADMIN_TOKEN}"]
)
async def test_admin_routes_refuse_a_missing_or_wrong_token(
    client: httpx.AsyncClient, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    for method, path in admin_requests(uuid.uuid4()):
        response = await client.request(method, path, headers=headers)
        assert_error(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"] == "Bearer"


async def test_admin_token_passes_the_guard(client: httpx.AsyncClient) -> None:
    # Past the guard the trace route looks the workspace up: an unknown one is 404, not 401.
    response = await client.get(
        f"/api/v1/stripe/workspaces/{uuid.uuid4()}/trace",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert_error(response, 404, "WORKSPACE_NOT_FOUND")


async def test_admin_routes_do_not_exist_without_a_configured_token(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"stripe_internal_admin_token": None}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
            for header in (None, f"Bearer {ADMIN_TOKEN}", "Bearer "):
                headers = {"Authorization": header} if header is not None else {}
                for method, path in admin_requests(uuid.uuid4()):
                    response = await http.request(method, path, headers=headers)
                    assert_error(response, 404, "NOT_FOUND")


async def test_openapi_documents_the_checkout_body_and_bearer_auth(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    checkout = spec["paths"][CHECKOUT_PATH]["post"]
    assert checkout["requestBody"]["required"] is True
    schema = checkout["requestBody"]["content"]["application/json"]["schema"]
    body = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert body["properties"]["plan_slug"]["enum"] == ["pro", "business"]
    assert body["properties"]["interval"]["enum"] == ["monthly", "yearly"]
    assert sorted(body["required"]) == ["interval", "plan_slug"]
    headers = [p["name"] for p in checkout["parameters"] if p["in"] == "header"]
    assert "Idempotency-Key" in headers

    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["type"] == "http"
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert {"HTTPBearer": []} in checkout["security"]
    billing = spec["paths"]["/api/v1/stripe/workspaces/{workspace_id}/billing"]["get"]
    assert {"HTTPBearer": []} in billing["security"]
    sync = spec["paths"]["/api/v1/stripe/catalog/sync"]["post"]
    assert sync["security"] and all(
        schemes[name]["scheme"] == "bearer" for entry in sync["security"] for name in entry
    )


async def test_checkout_judges_the_caller_then_the_key_then_the_body(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # A bad body is judged last, as when the route decoded it itself: the body is declared now.
    workspace_id, owner = await create_workspace(sessions)
    member_workspace, member = await create_workspace(sessions, role="member")
    url = CHECKOUT_PATH.format(workspace_id=workspace_id)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    json_type = {"Content-Type": "application/json"}
    garbage = b"not json"

    response = await client.post(url, content=garbage, headers={**json_type, **key})
    assert_error(response, 401, "UNAUTHENTICATED")
    response = await client.post(url, content=garbage, headers={**json_type, **bearer(member)})
    assert_error(response, 404, "WORKSPACE_NOT_FOUND")
    response = await client.post(
        CHECKOUT_PATH.format(workspace_id=member_workspace),
        content=garbage,
        headers={**json_type, **key, **bearer(member)},
    )
    assert_error(response, 403, "FORBIDDEN")
    response = await client.post(url, content=garbage, headers={**json_type, **bearer(owner)})
    assert_error(response, 400, "IDEMPOTENCY_KEY_REQUIRED")
    for body in (garbage, b"", b"[]", b"null"):
        response = await client.post(
            url, content=body, headers={**json_type, **key, **bearer(owner)}
        )
        assert_error(response, 422, "VALIDATION_ERROR")
    response = await client.post(
        url,
        json={"plan_slug": "enterprise", "interval": "monthly"},
        headers={**key, **bearer(owner)},
    )
    assert_error(response, 422, "PLAN_NOT_AVAILABLE")


async def test_a_nul_in_any_path_is_404_in_the_error_shape(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # The API fuzzer found a NUL in a query reaching PostgreSQL (a 500); path parameters too.
    workspace_id, user_id = await create_workspace(sessions)
    for path in (
        f"/api/v1/stripe/workspaces/{workspace_id}/checkout-session/cs_%00",
        "/api/v1/stripe/events/evt_%00/retry",
        "/healthz%00",
    ):
        response = await client.get(path, headers=bearer(user_id))
        assert_error(response, 404, "NOT_FOUND")
