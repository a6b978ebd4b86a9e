"""`GET .../billing`: what a workspace has — plan, subscription, grace, grants, pending checkout."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import MemberAccess, SessionDep
from api.errors import ApiError
from models.schemas import BillingStatusPublic
from models.vocabulary import ErrorCode
from rules.billing_status import WorkspaceNotFound, read_billing_status

router = APIRouter(prefix="/api/v1/stripe/workspaces", tags=["billing"])


@router.get("/{workspace_id}/billing", response_model=BillingStatusPublic)
async def billing_status(access: MemberAccess, session: SessionDep) -> BillingStatusPublic:
    try:
        return await read_billing_status(session, access.workspace_id)
    except WorkspaceNotFound:  # deleted since the access check
        raise ApiError(404, ErrorCode.WORKSPACE_NOT_FOUND, "no such workspace") from None
