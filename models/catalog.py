"""Plan variants: the Stripe price behind each self-serve plan and interval (seed 002 §4)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.columns import jsonb_column, timestamp_column


class PlanVariantBase(SQLModel):
    plan_slug: str
    interval: str
    currency: str = "usd"
    stripe_price_id: str | None = Field(default=None, unique=True)
    stripe_product_id: str | None = None
    unit_amount: int | None = None
    lookup_key: str | None = None
    gating_bundle: str | None = None


class PlanVariant(PlanVariantBase, table=True):
    __tablename__ = "plan_variants"
    __table_args__ = (
        UniqueConstraint("plan_slug", "interval", "currency", name="uq_plan_variants_plan"),
    )

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
    # Merged catalog grants, price metadata overriding product metadata per code (seed 001).
    grants: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
    synced_at: datetime | None = Field(default=None, sa_column=timestamp_column())


class PlanVariantPublic(SQLModel):
    """One row of a pricing table: what a plan costs per interval and what it grants."""

    plan: str
    interval: str
    currency: str
    amount: int = Field(description="Price per interval in the currency's minor unit (cents).")
    grants: dict[str, Any]


class PlansPublic(SQLModel):
    plans: list[PlanVariantPublic]
