"""`GET /api/v1/stripe/workspaces/{workspace_id}/trace`: support's purchase timeline (admin)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import AdminDep, SessionMakerDep, SettingsDep, TemporalDep
from api.errors import ApiError
from models.trace_payloads import WorkspaceTrace
from models.vocabulary import ErrorCode
from ops.trace import WorkspaceNotFound, build_trace

router = APIRouter(prefix="/api/v1/stripe/workspaces", tags=["support"])


def _not_found() -> ApiError:
    return ApiError(404, ErrorCode.WORKSPACE_NOT_FOUND, "no such workspace")


@router.get(
    "/{workspace_id}/trace",
    response_model=WorkspaceTrace,
    summary="Timeline of a workspace's purchases, from checkout to the final plan",
)
async def workspace_trace(
    workspace_id: str,
    _admin: AdminDep,
    settings: SettingsDep,
    sessions: SessionMakerDep,
    temporal: TemporalDep,
) -> WorkspaceTrace:
    try:
        workspace = uuid.UUID(workspace_id)
    except ValueError:
        raise _not_found() from None
    try:
        return await build_trace(sessions, temporal, settings, workspace)
    except WorkspaceNotFound:
        raise _not_found() from None
