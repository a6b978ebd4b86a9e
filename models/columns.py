"""Column helpers shared by the table modules: timezone-aware timestamps and JSONB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, text
from sqlalchemy.dialects.postgresql import JSONB


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp_column(
    *, nullable: bool = True, default_now: bool = False, index: bool = False
) -> Any:
    return Column(
        DateTime(timezone=True),
        nullable=nullable,
        server_default=text("now()") if default_now else None,
        index=index,
    )


def jsonb_column(*, nullable: bool = False, default: str = "'{}'::jsonb") -> Any:
    return Column(JSONB, nullable=nullable, server_default=text(default))
