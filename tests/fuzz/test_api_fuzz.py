"""Schemathesis against every route of the API, with valid and invalid tokens: no 500, and every
error in the one shape `{"error": {"code", "message"}}`.

Cases come from the app's own OpenAPI document, in both of schemathesis' modes (positive:
what the schema allows; negative: what it does not). Each case is sent with a token drawn
from owner, member, admin, a forged one, garbage or none, and half the time aimed at a real
workspace, so valid tokens reach the deep paths (checkout runs its workflow against the
emulator). `BILLING_FUZZ_EXAMPLES` raises the examples per operation (default 25).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.main import create_app
from core.tokens import mint_token
from tests.conftest import ADMIN_TOKEN, JWT_SECRET, make_settings
from tests.fuzz.conftest import API_EXAMPLES, DERANDOMIZE, EXAMPLES, Tenant, count
from tests.fuzz.system import ThreadedSystem

# "valid" is the token the route asks for (the owner's JWT, or the admin token on operator
# routes) and weighs most: it is what gets past auth to the deep paths; "crossed" is the other
# kind of valid token (the admin token on a workspace route, an owner's JWT on an admin one).
AUTH_KINDS = ("valid", "valid", "valid", "valid", "member", "crossed", "forged", "garbage", "none")
# Printable ASCII that an HTTP client will send as a header value (no edge whitespace).
GARBAGE = st.from_regex(r"\A([!-~]([ -~]{0,298}[!-~])?)?\Z")


@pytest.fixture(scope="module")
def http() -> Any:
    with requests.Session() as session:
        yield session


# The document is the app's own and needs no running system (the routes are static), so the
# cases can be collected at import; requests go to the threaded system's URL.
schema = schemathesis.openapi.from_dict(
    create_app(make_settings("postgresql://fuzz/unused", "127.0.0.1:1", "unused")).openapi()
)


def authorization(kind: str, admin_route: bool, tenant: Tenant, garbage: str) -> str | None:
    owner, admin = f"Bearer {mint_token(JWT_SECRET, tenant.owner_id)}", f"Bearer {ADMIN_TOKEN}"
    if kind == "valid":
        return admin if admin_route else owner
    if kind == "crossed":
        return owner if admin_route else admin
    if kind == "member":
        return f"Bearer {mint_token(JWT_SECRET, tenant.member_id)}"
    if kind == "forged":
        return f"Bearer {mint_token('another-secret-' + 'z' * 32, tenant.owner_id)}"
    if kind == "garbage":
        return garbage
    return None


def assert_one_error_shape(response: Any) -> None:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    code, message = body["error"]["code"], body["error"]["message"]
    assert isinstance(code, str) and code and code == code.upper(), body
    assert isinstance(message, str) and message, body


@schema.parametrize()
@schema.given(
    kind=st.sampled_from(AUTH_KINDS),
    garbage=GARBAGE,
    aim=st.sampled_from([True, True, True, False]),
)
@settings(
    max_examples=API_EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_route_answers_500_and_every_error_has_one_shape(
    case: Any,
    kind: str,
    garbage: str,
    aim: bool,
    fuzz_system: ThreadedSystem,
    tenant: Tenant,
    http: Any,
) -> None:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if aim:  # at this tenant's real workspace and event, with a fresh usable key
        if "workspace_id" in (case.path_parameters or {}):
            case.path_parameters["workspace_id"] = str(tenant.workspace_id)
        if "event_id" in (case.path_parameters or {}):
            case.path_parameters["event_id"] = tenant.event_id
        if case.path.endswith("/checkout-session"):
            headers["Idempotency-Key"] = str(uuid.uuid4())
    admin_route = any("AdminToken" in s for s in case.operation.definition.raw.get("security", []))
    value = authorization(kind, admin_route, tenant, garbage)
    if value is not None:
        headers["Authorization"] = value
    case.headers = headers
    response = case.call(base_url=fuzz_system.url, session=http, timeout=60)
    count("api", response.status_code)
    if EXAMPLES:  # a long run also reports each operation
        count(f"api {case.method} {case.path}", response.status_code)
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        assert_one_error_shape(response)
    elif response.headers.get("content-type", [""])[0].startswith("application/json"):
        case.validate_response(response, checks=[response_schema_conformance])
