"""The codec endpoint the Temporal UI and CLI decode through: the UI's OIDC tokens (JWKS,
the codec's own audience) or the admin token, CORS for the UI's origin only, one namespace,
and an unauthenticated mode that binds loopback only."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.codec_app import create_codec_app
from core.config import Settings
from core.production_checks import codec_bind_refusal
from ops.processes import free_port
from tests.conftest import ADMIN_TOKEN, TEST_DATA_CONVERTER, bearer
from tests.jwks_support import AUDIENCE, ISSUER, IdentityProvider, identity_provider

UI_ORIGIN = "http://127.0.0.1:8233"
CODEC_AUDIENCE = "temporal-ui"


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with identity_provider() as provider:
        yield provider


@pytest.fixture
def codec_settings(settings: Settings, idp: IdentityProvider) -> Settings:
    return settings.model_copy(
        update={
            "auth_jwks_url": idp.url,
            "auth_jwt_audience": AUDIENCE,
            "auth_jwt_issuer": ISSUER,
            "codec_server_jwt_audience": CODEC_AUDIENCE,
            "temporal_ui_url": UI_ORIGIN,
        }
    )


@pytest_asyncio.fixture
async def codec(codec_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_codec_app(codec_settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://codec.test") as http:
        yield http


async def _sealed(value: Any) -> dict[str, Any]:
    payloads = await TEST_DATA_CONVERTER.encode([value])
    as_json: dict[str, Any] = json_format.MessageToDict(Payloads(payloads=payloads))
    return as_json


def _values(body: dict[str, Any]) -> list[bytes]:
    payloads = json_format.ParseDict(body, Payloads()).payloads
    return [payload.data for payload in payloads]


async def test_who_may_decode(codec: httpx.AsyncClient, idp: IdentityProvider) -> None:
    body = await _sealed({"url": "https://billing.stripe.test/p/session/abc"})
    user = uuid.uuid4()
    allowed = {
        "admin token (CLI --codec-auth)": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        "the UI's OIDC token": {
            "Authorization": f"Bearer {idp.token('rsa-1', user, audience=CODEC_AUDIENCE)}"
        },
    }
    refused = {
        "nothing": {},
        "a product user's HS256 token": bearer(user),
        "an OIDC token for the API, not the codec": {
            "Authorization": f"Bearer {idp.token('rsa-1', user, audience=AUDIENCE)}"
        },
        "a wrong admin token": {"Authorization": "Bearer " + "x" * 40},
    }
    for who, headers in allowed.items():
        answer = await codec.post("/decode", json=body, headers=headers)
        assert answer.status_code == 200, (who, answer.text)
        assert b"billing.stripe.test" in _values(answer.json())[0], who
    for who, headers in refused.items():
        answer = await codec.post("/decode", json=body, headers=headers)
        assert answer.status_code == 401, who
        assert answer.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_encode_decode_round_trip_and_one_namespace(codec: httpx.AsyncClient) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    plain = json_format.MessageToDict(
        Payloads(payloads=[TEST_DATA_CONVERTER.payload_converter.to_payloads(["cus_42"])[0]])
    )
    sealed = await codec.post("/encode", json=plain, headers={**admin, "X-Namespace": "default"})
    assert sealed.status_code == 200
    assert b"cus_42" not in _values(sealed.json())[0]
    opened = await codec.post("/decode", json=sealed.json(), headers=admin)
    assert _values(opened.json()) == _values(plain)
    other = await codec.post("/decode", json=sealed.json(), headers={**admin, "X-Namespace": "x"})
    assert other.status_code == 403
    junk = await codec.post("/decode", content=b"not json", headers=admin)
    assert junk.status_code == 400


async def test_cors_admits_the_ui_origin_only(codec: httpx.AsyncClient) -> None:
    def preflight(origin: str) -> dict[str, str]:
        return {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
        }

    ui = await codec.options("/decode", headers=preflight(UI_ORIGIN))
    assert ui.status_code == 200
    assert ui.headers["access-control-allow-origin"] == UI_ORIGIN
    evil = await codec.options("/decode", headers=preflight("https://evil.test"))
    assert "access-control-allow-origin" not in evil.headers


async def test_unauthenticated_mode_is_loopback_only(settings: Settings) -> None:
    local = settings.model_copy(update={"codec_server_auth": "none"})
    transport = httpx.ASGITransport(app=create_codec_app(local))
    async with httpx.AsyncClient(transport=transport, base_url="http://codec.test") as http:
        answer = await http.post("/decode", json=await _sealed("hello"))
    assert answer.status_code == 200
    assert codec_bind_refusal(local, "127.0.0.1") is None
    assert codec_bind_refusal(local, "0.0.0.0") is not None
    assert codec_bind_refusal(settings, "0.0.0.0") is None  # with auth, any address


def test_codec_server_command_refuses_an_open_public_bind(settings: Settings) -> None:
    env = {
        "DATABASE_URL": settings.database_url,
        "AUTH_JWT_SECRET": settings.auth_jwt_secret,
        "STRIPE_SECRET_KEY": settings.stripe_secret_key,
        "STRIPE_WEBHOOK_SIGNING_SECRET": settings.stripe_webhook_signing_secret,
        "CHECKOUT_SUCCESS_URL": "http://a",
        "CHECKOUT_CANCEL_URL": "http://a",
        "BILLING_PORTAL_RETURN_URL": "http://a",
        "CONTACT_SALES_URL": "http://a",
        "CODEC_SERVER_AUTH": "none",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "codec-server", "--host", "0.0.0.0",
         "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "billing: CODEC_SERVER_AUTH=none may only bind a loopback address, not 0.0.0.0"
    ]
