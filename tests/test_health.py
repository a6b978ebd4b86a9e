"""Liveness and readiness: /readyz is 503 while PostgreSQL or Temporal cannot be reached."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from api.main import create_app
from core.config import Settings
from ops.postgres import with_database
from ops.processes import free_port


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
            yield http


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "temporal": "ok"}


async def test_readyz_503_when_database_is_down(settings: Settings) -> None:
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/billing"
    async with serve(settings.model_copy(update={"database_url": down})) as http:
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": "unavailable", "temporal": "ok"}
        assert response.json()["error"]["code"] == "NOT_READY"
        assert (await http.get("/healthz")).status_code == 200


async def test_readyz_503_when_database_does_not_exist(settings: Settings) -> None:
    missing = with_database(settings.database_url, "billing_no_such_database")
    async with serve(settings.model_copy(update={"database_url": missing})) as http:
        assert (await http.get("/readyz")).status_code == 503


async def test_readyz_503_when_temporal_is_down(settings: Settings) -> None:
    update = {"temporal_address": f"127.0.0.1:{free_port()}"}
    async with serve(settings.model_copy(update=update)) as http:
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": "ok", "temporal": "unavailable"}


async def test_production_metrics_answer_only_the_metrics_token(settings: Settings) -> None:
    token = "m3tr1cs-T0ken-" + "a1b2c3d4e5f6g7h8i9"
    production = settings.model_copy(update={"billing_env": "production", "metrics_token": token})
    async with serve(production) as http:
        assert (await http.get("/metrics")).status_code == 404
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 404
        shown = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert shown.status_code == 200 and "billing_webhook_received_total" in shown.text
    untokened = settings.model_copy(update={"billing_env": "production"})
    async with serve(untokened) as http:
        assert (await http.get("/metrics")).status_code == 404
    async with serve(settings) as http:  # off production: open, as before
        assert (await http.get("/metrics")).status_code == 200
