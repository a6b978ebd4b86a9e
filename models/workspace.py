"""Workspaces and their members: owned by the main application, read here (plan is ours)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Uuid, text
from sqlmodel import Field, SQLModel

from models.columns import timestamp_column, utcnow
from models.vocabulary import Role, sql_in


class WorkspaceBase(SQLModel):
    name: str = Field(default="", sa_column_kwargs={"server_default": text("''")})
    plan: str = Field(default="free", sa_column_kwargs={"server_default": text("'free'")})


class Workspace(WorkspaceBase, table=True):
    __tablename__ = "workspaces"

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )


class WorkspaceMember(SQLModel, table=True):
    __tablename__ = "workspace_members"
    __table_args__ = (
        CheckConstraint(sql_in("role", Role), name="ck_workspace_members_role"),
    )

    workspace_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True, index=True))
    role: str = Field(sa_column=Column(String, nullable=False, server_default=text("'member'")))
