"""`POST .../portal-session`: a Stripe Billing Portal link for a validated customer.

Runs `portal:{workspace_id}:{request_id}`, the request id being the client's Idempotency-Key
or X-Request-Id when usable, else a fresh UUID. Concurrent duplicates share one execution
(USE_EXISTING); a later retry runs again (ALLOW_DUPLICATE), since portal links are short-lived.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Request
from temporalio.common import WorkflowIDReusePolicy

from api.bodies import BoundedBodyRoute
from api.deps import ManagerAccess, SettingsDep, TemporalDep
from api.limits import limit_starts
from api.temporal_errors import run_workflow
from core.constants import portal_workflow_id
from models.checkout_payloads import PortalInput
from models.schemas import PortalSessionPublic
from workflows.portal import PortalWorkflow

# The portal takes no body; one over 16 KiB is refused all the same, never read.
router = APIRouter(
    prefix="/api/v1/stripe/workspaces", tags=["portal"], route_class=BoundedBodyRoute
)

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PORTAL_EXECUTION_TIMEOUT = timedelta(seconds=60)


def request_id(*candidates: str | None) -> str:
    """The first usable client-given id; a fresh UUID otherwise."""
    for candidate in candidates:
        if candidate and REQUEST_ID_PATTERN.match(candidate.strip()):
            return candidate.strip()
    return str(uuid.uuid4())


@router.post(
    "/{workspace_id}/portal-session",
    response_model=PortalSessionPublic,
    summary="Create a Stripe Billing Portal session for the workspace's customer",
)
async def create_portal_session(
    request: Request,
    access: ManagerAccess,
    temporal: TemporalDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    x_request_id: Annotated[str | None, Header(alias="X-Request-Id")] = None,
) -> PortalSessionPublic:
    rid = request_id(idempotency_key, x_request_id)
    await limit_starts(request, "portal", access.workspace_id, settings.portal_starts_per_minute)
    result = await run_workflow(
        temporal,
        PortalWorkflow.run,
        PortalInput(workspace_id=str(access.workspace_id), request_id=rid),
        workflow_id=portal_workflow_id(str(access.workspace_id), rid),
        task_queue=settings.temporal_task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        execution_timeout=PORTAL_EXECUTION_TIMEOUT,
        wait_seconds=settings.api_workflow_wait_seconds,
    )
    return PortalSessionPublic(url=result.url)
