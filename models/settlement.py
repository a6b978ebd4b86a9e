"""Duplicate-subscription settlements: which of two live subscriptions won, and what the loser
cost or returned (seed 001: paid plans are not stackable)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Uuid, text
from sqlmodel import Field, SQLModel

from models.columns import timestamp_column, utcnow
from models.vocabulary import SettlementAction, sql_in


def _amount() -> Column[int]:
    return Column(BigInteger, nullable=False, server_default=text("0"))


class DuplicateSettlement(SQLModel, table=True):
    __tablename__ = "billing_duplicate_settlements"
    __table_args__ = (
        CheckConstraint(sql_in("action", SettlementAction), name="ck_settlement_action"),
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
    winner_subscription_id: str
    # One settlement per losing subscription: a replayed event finds it and does nothing.
    loser_subscription_id: str = Field(unique=True)
    rule: str  # which step of the winner rule decided, e.g. "payment_state", "plan"
    action: str
    # Minor units of `currency`.
    amount_refunded: int = Field(default=0, sa_column=_amount())
    amount_credited: int = Field(default=0, sa_column=_amount())
    currency: str | None = None
    stripe_event_id: str | None = None  # the event (or reconcile run) that found it
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
