"""Workspace ↔ Stripe customer mapping and its audit log (seed 002 §5)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Identity, Uuid
from sqlmodel import Field, SQLModel

from models.columns import timestamp_column, utcnow
from models.vocabulary import CustomerAuditEvent, sql_in


class WorkspaceBillingCustomer(SQLModel, table=True):
    __tablename__ = "workspace_billing_customers"

    # One customer per workspace (primary key) and one workspace per customer (unique).
    workspace_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    )
    stripe_customer_id: str = Field(unique=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )


class WorkspaceBillingCustomerEvent(SQLModel, table=True):
    __tablename__ = "workspace_billing_customer_events"
    __table_args__ = (
        CheckConstraint(
            sql_in("event_type", CustomerAuditEvent),
            name="ck_customer_events_type",
        ),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=False), primary_key=True)
    )
    workspace_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    event_type: str
    old_stripe_customer_id: str | None = None
    new_stripe_customer_id: str | None = None
    reason: str | None = None
    stripe_event_id: str | None = None
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
