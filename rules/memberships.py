"""The workspaces a user belongs to, with their role and plan, for a workspace picker."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.workspace import Workspace, WorkspaceMember


@dataclass(frozen=True)
class Membership:
    workspace_id: uuid.UUID
    name: str
    plan: str
    role: str


async def memberships(session: AsyncSession, user_id: uuid.UUID) -> list[Membership]:
    """Oldest workspace first, so seeded demo workspaces keep their order."""
    rows = (
        await session.exec(
            select(Workspace.id, Workspace.name, Workspace.plan, WorkspaceMember.role)
            .join(WorkspaceMember, col(WorkspaceMember.workspace_id) == col(Workspace.id))
            .where(col(WorkspaceMember.user_id) == user_id)
            .order_by(col(Workspace.created_at), col(Workspace.name))
        )
    ).all()
    return [Membership(row[0], row[1], row[2], row[3]) for row in rows]
