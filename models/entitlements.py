"""Entitlement snapshots (one row per version), their change notices, and their public shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Uuid,
    text,
)
from sqlmodel import Field, SQLModel

from models.columns import jsonb_column, timestamp_column, utcnow
from models.vocabulary import GrantReason, NoticeStatus, sql_in

NOTICE_TYPE = "workspace.entitlements.updated"


class WorkspaceEntitlement(SQLModel, table=True):
    """What a workspace may do, as of one version; a new row only when the content changes."""

    __tablename__ = "workspace_entitlements"
    __table_args__ = (CheckConstraint("version > 0", name="ck_workspace_entitlements_version"),)

    workspace_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    )
    version: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    previous_version: int | None = None
    plan: str
    interval: str | None = None
    status: str
    grants: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
    gating_bundle: str | None = None
    effective_until: datetime | None = Field(default=None, sa_column=timestamp_column())
    in_grace: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    # The Stripe event id, or the action (reconcile, grace_expired, catalog_sync, …).
    cause: str
    computed_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )


class EntitlementNotice(SQLModel, table=True):
    """The transactional outbox and delivery log of `workspace.entitlements.updated`."""

    __tablename__ = "entitlement_notices"
    __table_args__ = (
        CheckConstraint(sql_in("status", NoticeStatus), name="ck_entitlement_notices_status"),
        ForeignKeyConstraint(
            ["workspace_id", "version"],
            ["workspace_entitlements.workspace_id", "workspace_entitlements.version"],
            ondelete="CASCADE",
        ),
        Index("ix_entitlement_notices_workspace_version", "workspace_id", "version", unique=True),
        # The sweep looks for pending notices nobody attempted when due.
        Index(
            "ix_entitlement_notices_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: str = Field(primary_key=True)  # ent_<workspace>_<version>: the receiver's dedupe key
    workspace_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    version: int
    status: str = Field(
        default=NoticeStatus.PENDING,
        sa_column=Column(String, nullable=False, server_default=text("'pending'")),
    )
    attempts: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0"))
    )
    last_error: str | None = None
    last_http_status: int | None = None
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
    # The 3-day retry window runs from here (an operator's resend starts a new one).
    window_started_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
    last_attempt_at: datetime | None = Field(default=None, sa_column=timestamp_column())
    delivered_at: datetime | None = Field(default=None, sa_column=timestamp_column())
    # A delivery in flight: no other attempt of this workspace starts before it ends.
    lease_until: datetime | None = Field(default=None, sa_column=timestamp_column())
    lease_token: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))


class EntitlementsPublic(BaseModel):
    """A workspace's entitlements at one version (the read route and each notice carry it)."""

    workspace_id: str
    version: int
    plan: str
    interval: str | None
    status: str
    grants: dict[str, Any]
    gating_bundle: str | None
    effective_until: datetime | None
    in_grace: bool
    cause: str | None
    computed_at: datetime | None


class GrantAnswerPublic(BaseModel):
    """May this workspace use one grant, with what value, and until when."""

    allowed: bool
    value: Any
    reason: GrantReason
    until: datetime | None


class EntitlementNoticeBody(BaseModel):
    """The body POSTed to `APP_WEBHOOK_URL`, signed in `Billing-Signature`."""

    id: str
    type: str = NOTICE_TYPE
    workspace_id: str
    version: int
    previous_version: int | None
    entitlements: EntitlementsPublic


def notice_id(workspace_id: uuid.UUID | str, version: int) -> str:
    return f"ent_{workspace_id}_{version}"
