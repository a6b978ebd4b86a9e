"""The worker, the API and the `billing` command reach a Temporal that demands mTLS — the dev
server behind a TLS terminator, with a CA and client certificate made here — and fail with
one clear line without a valid client certificate."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import stripe
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from activities.deps import ActivityDeps
from api.main import create_app
from core.config import Settings
from core.temporal_client import TemporalConnectError, connect_temporal
from tests.conftest import bearer, create_workspace
from tests.tls_support import SERVER_NAME, Pki, make_pki, tls_terminator
from worker import build_worker


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest_asyncio.fixture
async def terminator(
    pki: Pki, temporal_env: WorkflowEnvironment
) -> AsyncIterator[tuple[str, list[str]]]:
    upstream = temporal_env.client.service_client.config.target_host
    async with tls_terminator(pki, upstream) as found:
        yield found


def _tls(settings: Settings, address: str, pki: Pki, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "temporal_address": address,
        "temporal_tls": True,
        "temporal_tls_server_ca_cert_path": str(pki.ca),
        "temporal_tls_client_cert_path": str(pki.client_cert),
        "temporal_tls_client_key_path": str(pki.client_key),
        "temporal_tls_server_name": SERVER_NAME,
    }
    values.update(overrides)
    return settings.model_copy(update=values)


async def test_worker_and_api_work_through_mtls(
    settings: Settings,
    pki: Pki,
    terminator: tuple[str, list[str]],
    sessions: async_sessionmaker[AsyncSession],
    stripe_client: stripe.StripeClient,
) -> None:
    address, admitted = terminator
    secured = _tls(settings, address, pki)
    # The worker: its client connects through the terminator, as `billing worker` does.
    worker_client = await connect_temporal(secured)
    deps = ActivityDeps(settings=secured, sessions=sessions, stripe=stripe_client)
    worker = build_worker(worker_client, secured, deps)
    app = create_app(secured)
    workspace_id, owner = await create_workspace(sessions)
    async with worker, app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
            ready = await http.get("/readyz")
            portal = await http.post(
                f"/api/v1/stripe/workspaces/{workspace_id}/portal-session", headers=bearer(owner)
            )
    assert ready.status_code == 200, ready.text
    # API → Temporal → worker → Stripe and back, every Temporal hop over mTLS.
    assert portal.status_code == 200, portal.text
    assert portal.json()["url"].startswith("http")
    assert admitted and all("billing-worker" in subject for subject in admitted)


@pytest.mark.parametrize(
    "missing",
    [
        {"temporal_tls_client_cert_path": None, "temporal_tls_client_key_path": None},
        "stranger",
        {"temporal_tls": None, "temporal_tls_server_ca_cert_path": None,
         "temporal_tls_client_cert_path": None, "temporal_tls_client_key_path": None,
         "temporal_tls_server_name": None},
    ],
    ids=["no-client-certificate", "certificate-of-another-ca", "plain-tcp"],
)
async def test_without_a_valid_client_certificate_connecting_fails_clearly(
    settings: Settings, pki: Pki, terminator: tuple[str, list[str]], missing: Any
) -> None:
    address, admitted = terminator
    overrides = (
        {"temporal_tls_client_cert_path": str(pki.stranger_cert),
         "temporal_tls_client_key_path": str(pki.stranger_key)}
        if missing == "stranger"
        else missing
    )
    refused = _tls(settings, address, pki, **overrides)
    with pytest.raises(TemporalConnectError) as raised:
        await asyncio.wait_for(connect_temporal(refused), 30)
    assert str(raised.value).startswith(f"cannot connect to Temporal at {address} (namespace")
    assert admitted == []  # nothing reached the server behind the terminator
    # The API still starts (lazily connected) and says Temporal is not reachable.
    app = create_app(refused)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
            ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["temporal"] == "unavailable"


async def test_billing_command_says_in_one_line_why_it_cannot_connect(
    settings: Settings, pki: Pki, terminator: tuple[str, list[str]]
) -> None:
    address, _ = terminator
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")},
        "DATABASE_URL": settings.database_url,
        "AUTH_JWT_SECRET": settings.auth_jwt_secret,
        "STRIPE_SECRET_KEY": settings.stripe_secret_key,
        "STRIPE_WEBHOOK_SIGNING_SECRET": settings.stripe_webhook_signing_secret,
        "CHECKOUT_SUCCESS_URL": "http://a",
        "CHECKOUT_CANCEL_URL": "http://a",
        "BILLING_PORTAL_RETURN_URL": "http://a",
        "CONTACT_SALES_URL": "http://a",
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_TLS": "true",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.ca),
        "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME,
    }

    def setup_temporal(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ops.cli", "setup-temporal"],
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=90,
            cwd=Path(__file__).resolve().parent.parent,
        )

    refused, accepted = await asyncio.gather(
        asyncio.to_thread(setup_temporal, {}),
        asyncio.to_thread(
            setup_temporal,
            {
                "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki.client_cert),
                "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pki.client_key),
            },
        ),
    )
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"billing: cannot connect to Temporal at {address} (namespace default, TLS)"
    ), refused.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert "search attributes" in accepted.stdout
