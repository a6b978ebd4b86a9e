"""`POST /api/v1/stripe/catalog/sync`: an operator runs the catalog sync now (admin token)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter
from temporalio.common import WorkflowIDReusePolicy

from api.deps import AdminDep, SettingsDep, TemporalDep
from api.temporal_errors import run_workflow
from core.constants import CATALOG_SYNC_WORKFLOW_PREFIX
from models.catalog_payloads import CatalogSyncInput, CatalogSyncSummary
from workflows.catalog_sync import CatalogSyncWorkflow

router = APIRouter(prefix="/api/v1/stripe/catalog", tags=["catalog"])

SYNC_EXECUTION_TIMEOUT = timedelta(minutes=5)


@router.post("/sync", response_model=CatalogSyncSummary, summary="Sync plan variants from Stripe")
async def sync_catalog(
    _admin: AdminDep, settings: SettingsDep, temporal: TemporalDep
) -> CatalogSyncSummary:
    return await run_workflow(
        temporal,
        CatalogSyncWorkflow.run,
        CatalogSyncInput(reason="manual"),
        workflow_id=f"{CATALOG_SYNC_WORKFLOW_PREFIX}:manual:{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        execution_timeout=SYNC_EXECUTION_TIMEOUT,
    )
