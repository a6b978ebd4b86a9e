"""`POST /api/v1/stripe/catalog/sync`: an operator runs the catalog sync now (admin token)."""

from __future__ import annotations

import hmac
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header
from temporalio.common import WorkflowIDReusePolicy

from api.deps import SettingsDep, TemporalDep
from api.errors import ApiError
from api.temporal_errors import run_workflow
from core.constants import CATALOG_SYNC_WORKFLOW_PREFIX
from models.catalog_payloads import CatalogSyncInput, CatalogSyncSummary
from workflows.catalog_sync import CatalogSyncWorkflow

router = APIRouter(prefix="/api/v1/stripe/catalog", tags=["catalog"])

SYNC_EXECUTION_TIMEOUT = timedelta(minutes=5)


def require_admin(authorization: str | None, configured: str | None) -> None:
    if not configured:
        # Without a configured token the route does not exist (seed 002 §2).
        raise ApiError(404, "NOT_FOUND", "not found")
    scheme, _, token = (authorization or "").partition(" ")
    presented = token.strip() if scheme.lower() == "bearer" else ""
    if not hmac.compare_digest(presented.encode(), configured.encode()):
        raise ApiError(
            401,
            "UNAUTHENTICATED",
            "the admin token is missing or wrong",
            {"WWW-Authenticate": "Bearer"},
        )


@router.post("/sync", response_model=CatalogSyncSummary, summary="Sync plan variants from Stripe")
async def sync_catalog(
    settings: SettingsDep,
    temporal: TemporalDep,
    authorization: Annotated[str | None, Header()] = None,
) -> CatalogSyncSummary:
    require_admin(authorization, settings.stripe_internal_admin_token)
    return await run_workflow(
        temporal,
        CatalogSyncWorkflow.run,
        CatalogSyncInput(reason="manual"),
        workflow_id=f"{CATALOG_SYNC_WORKFLOW_PREFIX}:manual:{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        execution_timeout=SYNC_EXECUTION_TIMEOUT,
    )
