"""Shared limits of every API and worker process: per-workspace request windows and the
cluster-wide Stripe token bucket, kept in PostgreSQL so N processes count as one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Float, Integer, text
from sqlmodel import Field, SQLModel

from models.columns import timestamp_column, utcnow


class RateLimitWindow(SQLModel, table=True):
    """Requests of one key (e.g. `checkout:{workspace}`) in the current one-minute window."""

    __tablename__ = "billing_rate_limits"

    key: str = Field(primary_key=True)
    window_start: datetime = Field(sa_column=timestamp_column(nullable=False))
    count: int = Field(sa_column=Column(Integer, nullable=False, server_default=text("0")))


class TokenBucketRow(SQLModel, table=True):
    """A token bucket shared by every process: tokens left as of `updated_at`."""

    __tablename__ = "billing_token_buckets"

    name: str = Field(primary_key=True)
    tokens: float = Field(sa_column=Column(Float, nullable=False))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=timestamp_column(nullable=False, default_now=True)
    )
