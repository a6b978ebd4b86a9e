"""The Stripe event ledger: the dedupe of record for every webhook (seed 002 §6)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, Index, Integer, Uuid, text
from sqlmodel import Field, SQLModel

from models.columns import jsonb_column, timestamp_column, utcnow
from models.vocabulary import LedgerStatus, sql_in


class StripeWebhookEvent(SQLModel, table=True):
    __tablename__ = "stripe_webhook_events"
    __table_args__ = (
        CheckConstraint(
            sql_in("status", LedgerStatus),
            name="ck_stripe_webhook_events_status",
        ),
        Index("ix_stripe_webhook_events_status_received", "status", "received_at"),
    )

    id: str = Field(primary_key=True)  # the Stripe event id: unique by construction
    type: str = Field(index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
    status: str = Field(default=LedgerStatus.PENDING)
    attempts: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0"))
    )
    last_error: str | None = None
    # How the event reached us: webhook delivery, Events API reconcile, or a replay.
    source: str = Field(default="webhook")
    stripe_created_at: datetime | None = Field(default=None, sa_column=timestamp_column())
    workspace_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, nullable=True, index=True)
    )
    stripe_object_id: str | None = None
    # Why an `ignored` row changed nothing (IgnoredReason).
    reason: str | None = None
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
    processing_started_at: datetime | None = Field(default=None, sa_column=timestamp_column())
    next_attempt_at: datetime | None = Field(default=None, sa_column=timestamp_column())
    processed_at: datetime | None = Field(default=None, sa_column=timestamp_column())


class BillingCursor(SQLModel, table=True):
    """Durable cursors of scheduled jobs, e.g. how far the Events API has been reconciled."""

    __tablename__ = "billing_cursors"

    name: str = Field(primary_key=True)
    value: str
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
