"""Subscriptions, their items and the grants an entitled subscription gives a workspace."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlmodel import Field, SQLModel

from models.columns import jsonb_column, timestamp_column, utcnow
from models.vocabulary import ENTITLED_STATUSES, SubscriptionStatus, sql_in

ENTITLED_SQL = sql_in("status", ENTITLED_STATUSES)
STATUS_SQL = sql_in("status", SubscriptionStatus)


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(STATUS_SQL, name="ck_subscriptions_status"),
        # The invariant of DESIGN.md: never two entitled rows for one workspace.
        Index(
            "uq_subscriptions_one_entitled_per_workspace",
            "workspace_id",
            unique=True,
            postgresql_where=text(ENTITLED_SQL),
        ),
    )

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
    workspace_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    plan_slug: str
    status: str
    stripe_subscription_id: str | None = Field(default=None, unique=True)
    stripe_customer_id: str | None = Field(default=None, index=True)
    stripe_price_id: str | None = None
    interval: str | None = None
    current_period_end: datetime | None = Field(default=None, sa_column=timestamp_column())
    cancel_at_period_end: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    grace_period_end: datetime | None = Field(default=None, sa_column=timestamp_column(index=True))
    canceled_at: datetime | None = Field(default=None, sa_column=timestamp_column())
    # `created` of the newest Stripe event applied: detects out-of-order deliveries.
    last_event_created: datetime | None = Field(default=None, sa_column=timestamp_column())
    last_stripe_event_id: str | None = None
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )


class SubscriptionItem(SQLModel, table=True):
    __tablename__ = "subscription_items"
    __table_args__ = (
        UniqueConstraint("subscription_id", "stripe_price_id", name="uq_subscription_items_price"),
    )

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
    subscription_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False)
    )
    stripe_subscription_item_id: str | None = None
    stripe_price_id: str
    quantity: int = 1
    current_period_start: datetime | None = Field(default=None, sa_column=timestamp_column())
    current_period_end: datetime | None = Field(default=None, sa_column=timestamp_column())
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )


class WorkspaceGrant(SQLModel, table=True):
    __tablename__ = "workspace_grants"

    workspace_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    )
    grant_program_code: str = Field(sa_column=Column(String, primary_key=True))
    value: Any = Field(default=None, sa_column=jsonb_column(nullable=True, default="'null'::jsonb"))
    source_subscription_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("subscriptions.id", ondelete="SET NULL"), nullable=True),
    )
    granted_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
