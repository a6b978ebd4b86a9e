"""Checkout idempotency records and checkout sessions (seed 002 §3, seed 000 fulfillment)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, UniqueConstraint, Uuid, text
from sqlmodel import Field, SQLModel

from models.columns import jsonb_column, timestamp_column, utcnow
from models.vocabulary import CheckoutStatus, sql_in


class StripeCheckoutIdempotency(SQLModel, table=True):
    __tablename__ = "stripe_checkout_idempotency"
    __table_args__ = (
        UniqueConstraint("workspace_id", "idempotency_key", name="uq_checkout_idempotency_key"),
    )

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
    workspace_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False)
    )
    idempotency_key: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    request_hash: str
    user_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))
    checkout_session_id: str | None = None
    response: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
    expires_at: datetime = Field(sa_column=timestamp_column(nullable=False, index=True))


class CheckoutSession(SQLModel, table=True):
    """One Stripe Checkout session: its workspace, and the subscription it finally became."""

    __tablename__ = "checkout_sessions"
    __table_args__ = (
        CheckConstraint(
            sql_in("status", CheckoutStatus), name="ck_checkout_sessions_status"
        ),
    )

    id: str = Field(primary_key=True)  # the Stripe checkout session id (cs_...)
    workspace_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    idempotency_key: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))
    stripe_customer_id: str | None = None
    plan_slug: str
    interval: str
    stripe_price_id: str | None = None
    status: str = Field(default=CheckoutStatus.PENDING)
    url: str | None = None
    stripe_subscription_id: str | None = Field(default=None, index=True)
    expires_at: datetime | None = Field(default=None, sa_column=timestamp_column())
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
    finalized_at: datetime | None = Field(default=None, sa_column=timestamp_column())
    # A completed session whose payment has not succeeded (CheckoutPayment), and why a
    # failed one failed.
    payment_status: str | None = None
    failure_reason: str | None = None
    # Set when a long pending state triggered a reconcile from Stripe (seed 000 recovery).
    reconcile_requested_at: datetime | None = Field(default=None, sa_column=timestamp_column())
