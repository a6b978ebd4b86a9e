"""Liveness, readiness (PostgreSQL and Temporal reachable) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import hmac
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.db import within_deadline
from core.config import Settings
from core.db import ping

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _database_ok(engine: AsyncEngine) -> bool:
    try:
        # Enforced here: a frozen server would keep even a cancelled ping waiting.
        await within_deadline(ping(engine), CHECK_TIMEOUT_SECONDS)
        return True
    except Exception as exc:  # any failure means "not ready", whatever its kind
        logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        return False


async def _temporal_ok(client: Client) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return await client.service_client.check_health()
    except Exception as exc:
        logger.warning("readiness: temporal unreachable: %s", type(exc).__name__)
        return False


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    database, temporal = await asyncio.gather(
        _database_ok(request.app.state.webhook_engine), _temporal_ok(request.app.state.temporal)
    )
    checks = {
        "database": "ok" if database else "unavailable",
        "temporal": "ok" if temporal else "unavailable",
    }
    if database and temporal:
        return JSONResponse({"status": "ready", "checks": checks})
    return JSONResponse(
        status_code=503,
        content={
            "error": {"code": "NOT_READY", "message": "a dependency is unreachable"},
            "checks": checks,
        },
    )


def _metrics_allowed(request: Request) -> bool:
    """Off production: open. In production the public port serves /metrics only to the
    METRICS_TOKEN bearer (workspace and event counts are not for the internet)."""
    settings: Settings = request.app.state.settings
    if settings.billing_env != "production":
        return True
    token = settings.metrics_token
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), (token or "").encode()
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    if not _metrics_allowed(request):
        # 404, not 401: a scanner learns nothing about what is served here.
        return JSONResponse(
            status_code=404, content={"error": {"code": "NOT_FOUND", "message": "not found"}}
        )
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
