"""FastAPI dependencies: settings, DB session, Temporal client, caller's access, admin token."""

from __future__ import annotations

import hmac
import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api.auth import BEARER_CHALLENGE, WorkspaceAccess, authenticate, workspace_access
from api.db import run_db
from api.errors import ApiError
from core.config import Settings
from core.tokens import TokenVerifier
from models.vocabulary import BILLING_MANAGER_ROLES, ErrorCode, Role
from rules.entitlement_reads import Reader

# auto_error=False: a missing or non-bearer header reaches us as None, so the answer stays
# the contract's 401 UNAUTHENTICATED body rather than FastAPI's own error.
user_bearer = HTTPBearer(
    auto_error=False,
    description="A user's JWT (HS256, or RS256/ES256 of the identity provider; `sub` = user id).",
)
reader_bearer = HTTPBearer(
    scheme_name="MemberOrServiceToken",
    auto_error=False,
    description="A member's JWT, or `BILLING_SERVICE_TOKEN` (the main application's back end).",
)
admin_bearer = HTTPBearer(
    scheme_name="AdminToken",
    auto_error=False,
    description="`STRIPE_INTERNAL_ADMIN_TOKEN`, for operator routes.",
)


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


SessionMakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


def get_temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


TemporalDep = Annotated[Client, Depends(get_temporal)]


def get_token_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


def current_user(
    verifier: Annotated[TokenVerifier, Depends(get_token_verifier)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(user_bearer)],
) -> uuid.UUID:
    # A plain def: FastAPI runs it on a worker thread, where a JWKS cache miss may block.
    token = credentials.credentials if credentials else None
    return authenticate(token, verifier)


CurrentUser = Annotated[uuid.UUID, Depends(current_user)]


def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)],
) -> None:
    configured = settings.stripe_internal_admin_token
    if not configured:
        # Without a configured token the operator routes do not exist (seed 002 §2).
        raise ApiError(404, ErrorCode.NOT_FOUND, "not found")
    presented = credentials.credentials if credentials else ""
    # Constant time, so the token cannot be guessed byte by byte from response times.
    if not hmac.compare_digest(presented.encode(), configured.encode()):
        raise ApiError(
            401, ErrorCode.UNAUTHENTICATED, "the admin token is missing or wrong", BEARER_CHALLENGE
        )


AdminDep = Annotated[None, Depends(require_admin)]


def _workspace_uuid(workspace_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(workspace_id)
    except ValueError:
        raise ApiError(404, ErrorCode.WORKSPACE_NOT_FOUND, "no such workspace") from None


async def member_access(
    request: Request, workspace_id: str, user_id: CurrentUser
) -> WorkspaceAccess:
    # A session of its own, closed before the route waits on anything else.
    workspace = _workspace_uuid(workspace_id)
    return await run_db(request, lambda s: workspace_access(s, workspace, user_id, tuple(Role)))


async def manager_access(
    request: Request, workspace_id: str, user_id: CurrentUser
) -> WorkspaceAccess:
    workspace = _workspace_uuid(workspace_id)
    return await run_db(
        request, lambda s: workspace_access(s, workspace, user_id, BILLING_MANAGER_ROLES)
    )


MemberAccess = Annotated[WorkspaceAccess, Depends(member_access)]
ManagerAccess = Annotated[WorkspaceAccess, Depends(manager_access)]


async def entitlement_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(reader_bearer)],
) -> Reader:
    """The service token reads any workspace; any other bearer must be a member's token."""
    # Straight from app.state, not through the plain-def dependencies above: FastAPI runs
    # those on a worker thread, two hand-offs per read on the main application's hot path.
    settings: Settings = request.app.state.settings
    verifier: TokenVerifier = request.app.state.token_verifier
    token = credentials.credentials if credentials else None
    service = settings.billing_service_token
    # Constant time, like the admin token.
    if token and service and hmac.compare_digest(token.encode(), service.encode()):
        return Reader(service=True)
    # On a worker thread: a JWKS cache miss may block (as in `current_user`).
    return Reader(user_id=await run_in_threadpool(authenticate, token, verifier))


ReaderDep = Annotated[Reader, Depends(entitlement_reader)]
