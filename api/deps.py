"""FastAPI dependencies: settings, DB session, Temporal client and the caller's access."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import stripe
from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.auth import WorkspaceAccess, authenticate, workspace_access
from api.errors import ApiError
from core.config import Settings
from models.vocabulary import BILLING_MANAGER_ROLES, Role


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


SessionMakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


async def get_session(sessions: SessionMakerDep) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def get_temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


TemporalDep = Annotated[Client, Depends(get_temporal)]


def get_stripe(request: Request) -> stripe.StripeClient:
    client: stripe.StripeClient = request.app.state.stripe
    return client


StripeDep = Annotated[stripe.StripeClient, Depends(get_stripe)]


def current_user(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> uuid.UUID:
    return authenticate(authorization, settings.auth_jwt_secret)


CurrentUser = Annotated[uuid.UUID, Depends(current_user)]


def _workspace_uuid(workspace_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(workspace_id)
    except ValueError:
        raise ApiError(404, "WORKSPACE_NOT_FOUND", "no such workspace") from None


async def member_access(
    workspace_id: str, user_id: CurrentUser, session: SessionDep
) -> WorkspaceAccess:
    return await workspace_access(session, _workspace_uuid(workspace_id), user_id, tuple(Role))


async def manager_access(
    workspace_id: str, user_id: CurrentUser, session: SessionDep
) -> WorkspaceAccess:
    return await workspace_access(
        session, _workspace_uuid(workspace_id), user_id, BILLING_MANAGER_ROLES
    )


MemberAccess = Annotated[WorkspaceAccess, Depends(member_access)]
ManagerAccess = Annotated[WorkspaceAccess, Depends(manager_access)]
