"""What operators see of the event ledger: unfinished rows and the outcome of a retry."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from models.vocabulary import LedgerStatus


class UnfinishedStatus(StrEnum):
    """The statuses an operator can list: every one that is not completed or ignored."""

    PENDING = LedgerStatus.PENDING
    PROCESSING = LedgerStatus.PROCESSING
    FAILED = LedgerStatus.FAILED
    DEAD = LedgerStatus.DEAD


class LedgerEventPublic(BaseModel):
    id: str
    type: str
    status: str
    attempts: int
    age_seconds: float
    received_at: datetime
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    workspace_id: str | None = None
    source: str

    @classmethod
    def from_row(cls, row: Any, now: datetime) -> LedgerEventPublic:
        """From a ledger row (`ledger.lookups.unfinished`) as of `now`."""
        return cls(
            id=row.id,
            type=row.type,
            status=row.status,
            attempts=row.attempts,
            age_seconds=round((now - row.received_at).total_seconds(), 3),
            received_at=row.received_at,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            workspace_id=str(row.workspace_id) if row.workspace_id else None,
            source=row.source,
        )


class LedgerEventList(BaseModel):
    events: list[LedgerEventPublic]
    # True when more rows matched than were returned (raise `limit`, or filter).
    truncated: bool = False


class EventRetryPublic(BaseModel):
    event_id: str
    # started | already_done | start_refused | temporal_unavailable
    outcome: str
    status: str | None = None  # the row's status after the retry
    error: str | None = None
