"""Who is calling, and may they act on this workspace (roles from `workspace_members`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import ApiError
from core.tokens import InvalidToken, TokenCheckUnavailable, TokenVerifier
from models.vocabulary import ErrorCode
from models.workspace import Workspace, WorkspaceMember

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class WorkspaceAccess:
    workspace_id: uuid.UUID
    user_id: uuid.UUID
    role: str


def authenticate(token: str | None, verifier: TokenVerifier) -> uuid.UUID:
    """The user id of a bearer token (None when the request carried no bearer token)."""
    if not token:
        raise ApiError(
            401, ErrorCode.UNAUTHENTICATED, "a bearer token is required", BEARER_CHALLENGE
        )
    try:
        return verifier.user_id(token)
    except TokenCheckUnavailable:
        # The provider's keys are unreachable: the caller may well be valid, so not a 401.
        raise ApiError(
            503, ErrorCode.BILLING_UNAVAILABLE, "sign-in cannot be checked right now"
        ) from None
    except InvalidToken:
        raise ApiError(
            401,
            ErrorCode.UNAUTHENTICATED,
            "the bearer token is invalid or expired",
            BEARER_CHALLENGE,
        ) from None


async def workspace_access(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    allowed_roles: tuple[str, ...],
) -> WorkspaceAccess:
    """Members may see; only `allowed_roles` may act.

    A caller who is not a member gets the same 404 as for a missing workspace, so workspace
    ids cannot be probed; 403 is reserved for members whose role is too low.
    """
    role = (
        await session.exec(
            select(WorkspaceMember.role)
            .join(Workspace, col(Workspace.id) == col(WorkspaceMember.workspace_id))
            .where(col(WorkspaceMember.workspace_id) == workspace_id)
            .where(col(WorkspaceMember.user_id) == user_id)
        )
    ).first()
    if role is None:
        raise ApiError(404, ErrorCode.WORKSPACE_NOT_FOUND, "no such workspace")
    if role not in allowed_roles:
        raise ApiError(
            403, ErrorCode.FORBIDDEN, f"the {role} role cannot do this; ask an owner or admin"
        )
    return WorkspaceAccess(workspace_id=workspace_id, user_id=user_id, role=role)
