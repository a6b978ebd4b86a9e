"""`GET .../billing`: what a workspace has — plan, subscription, grace, grants, pending checkout."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.db import run_db
from api.deps import MemberAccess
from api.errors import ApiError
from models.schemas import BillingStatusPublic
from models.vocabulary import ErrorCode
from rules.billing_status import WorkspaceNotFound, read_billing_status

router = APIRouter(prefix="/api/v1/stripe/workspaces", tags=["billing"])


@router.get("/{workspace_id}/billing", response_model=BillingStatusPublic)
async def billing_status(request: Request, access: MemberAccess) -> BillingStatusPublic:
    try:
        return await run_db(request, lambda s: read_billing_status(s, access.workspace_id))
    except WorkspaceNotFound:  # deleted since the access check
        raise ApiError(404, ErrorCode.WORKSPACE_NOT_FOUND, "no such workspace") from None
