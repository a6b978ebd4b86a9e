"""The development page and its routes exist outside production only; /docs works offline in
every mode."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from api.main import create_app
from core.config import Settings
from core.temporal_connection import namespace_of
from tests.conftest import bearer, create_workspace, emulator_control

pytestmark = pytest.mark.asyncio


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
            yield http


def production(settings: Settings) -> Settings:
    # Production refuses placeholder-looking secrets; the test JWT secret has one ("xxx").
    return settings.model_copy(update={"billing_env": "production", "auth_jwt_secret": "s" * 40})


async def test_the_page_and_its_assets_are_served_in_development(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Sign in as the demo owner" in page.text
    for asset in re.findall(r'(?:src|href)="(/dev-static/[^"]+)"', page.text):
        assert (await client.get(asset)).status_code == 200, asset
    assert (await client.get("/dev-static/app.js")).text.startswith("// The development page")
    # app.js imports the API module (an ES module, no build step).
    assert (await client.get("/dev-static/api.js")).status_code == 200


async def test_production_has_no_page_no_dev_routes_but_offline_docs(settings: Settings) -> None:
    async with serve(production(settings)) as http:
        for path in ("/", "/dev-static/app.js", "/api/v1/dev/demo", "/api/v1/dev/workspaces"):
            assert (await http.get(path)).status_code == 404, path
        assert (await http.post("/api/v1/dev/stripe/webhooks/pause")).status_code == 404
        docs = await http.get("/docs")
        assert docs.status_code == 200
        openapi = (await http.get("/openapi.json")).json()
        assert not any(p.startswith("/api/v1/dev") for p in openapi["paths"])
        assert "/api/v1/stripe/plans" in openapi["paths"]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_pages_load_only_local_assets(client: httpx.AsyncClient, path: str) -> None:
    html = (await client.get(path)).text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    urls += re.findall(r"""url: ?["']([^"']+)["']""", html)
    assert urls, html
    for url in urls:
        assert url.startswith("/"), f"{path} loads {url} from elsewhere"
        assert (await client.get(url)).status_code == 200, url
    assert "cdn." not in html and "fonts.googleapis" not in html


async def test_redoc_bundle_names_no_cdn(client: httpx.AsyncClient) -> None:
    bundle = await client.get("/docs-assets/redoc.standalone.js")
    assert bundle.status_code == 200 and len(bundle.content) > 500_000
    assert b"cdn.redoc.ly" not in bundle.content


async def test_demo_route_hands_out_the_stack_files_token(
    settings: Settings, tmp_path: Path
) -> None:
    stack_file = tmp_path / "dev-stack.json"
    with_stack = settings.model_copy(update={"billing_dev_stack_file": str(stack_file)})
    async with serve(with_stack) as http:
        # `billing dev` writes the file only once the stack is up: no token until then.
        starting = (await http.get("/api/v1/dev/demo")).json()
        assert starting["demo_owner_token"] is None
        stack_file.write_text(json.dumps({"demo_owner_token": "tok.en.here"}))
        demo = (await http.get("/api/v1/dev/demo")).json()
    assert demo == {
        "demo_owner_token": "tok.en.here",
        "temporal_ui_url": settings.temporal_ui_url,
        "temporal_namespace": namespace_of(settings),
        "stripe_emulator": True,
        "checkout_pending_reconcile_seconds": settings.checkout_pending_reconcile_seconds,
    }


async def test_workspaces_lists_only_the_callers_memberships(
    client: httpx.AsyncClient, sessions: Any
) -> None:
    owned, owner = await create_workspace(sessions, role="owner")
    other, _ = await create_workspace(sessions, role="owner")
    assert (await client.get("/api/v1/dev/workspaces")).status_code == 401
    answer = (await client.get("/api/v1/dev/workspaces", headers=bearer(owner))).json()
    assert answer == {
        "workspaces": [{"id": str(owned), "name": "Acme", "plan": "free", "role": "owner"}]
    }
    assert str(other) not in json.dumps(answer)
    stranger = (await client.get("/api/v1/dev/workspaces", headers=bearer(uuid.uuid4()))).json()
    assert stranger == {"workspaces": []}


async def test_developer_panel_relays_pause_resume_and_settle(
    client: httpx.AsyncClient, stripe_client: stripe.StripeClient, sessions: Any, settings: Any
) -> None:
    _, user = await create_workspace(sessions)
    auth = bearer(user)
    assert (await client.post("/api/v1/dev/stripe/webhooks/pause")).status_code == 401
    paused = await client.post("/api/v1/dev/stripe/webhooks/pause", headers=auth)
    assert paused.json() == {"paused": True, "backlog": 0, "queued": 0, "in_flight": 0}
    state = await client.get("/api/v1/dev/stripe/webhooks", headers=auth)
    assert state.json()["paused"] is True
    resumed = await client.post("/api/v1/dev/stripe/webhooks/resume", headers=auth)
    assert resumed.json()["paused"] is False

    price = (await stripe_client.v1.prices.list_async(params={"limit": 1})).data[0]
    session = await stripe_client.v1.checkout.sessions.create_async(
        params={"mode": "subscription", "line_items": [{"price": price.id, "quantity": 1}]}
    )
    url = f"/api/v1/dev/stripe/checkout-sessions/{session.id}/settle"
    # Nothing to settle while the session is open: the emulator's refusal is passed on.
    refused = await client.post(url, json={"succeeded": True}, headers=auth)
    # The emulator refusing the request is the caller's mistake, not a gateway failure.
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "BAD_REQUEST"
    await emulator_control(
        settings.stripe_api_base,
        f"checkout/sessions/{session.id}/complete",
        {"outcome": "processing"},
    )
    settled = await client.post(url, json={"succeeded": True}, headers=auth)
    assert settled.json() == {"id": session.id, "payment_status": "paid"}


async def test_relay_is_404_with_real_stripe(settings: Settings, sessions: Any) -> None:
    _, user = await create_workspace(sessions)
    real = settings.model_copy(update={"stripe_api_base": "https://api.stripe.com"})
    async with serve(real) as http:
        answer = await http.post("/api/v1/dev/stripe/webhooks/pause", headers=bearer(user))
        assert answer.status_code == 404
        assert (await http.get("/api/v1/dev/demo")).json()["stripe_emulator"] is False
