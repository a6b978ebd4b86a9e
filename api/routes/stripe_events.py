"""`GET /api/v1/stripe/events`, `POST .../events/{event_id}/retry`: operators and the ledger.

Admin token only. The list shows unfinished rows (pending, processing, failed, dead) with
their attempts, age and last error; a retry re-runs one event through the normal workflow id
policies (`ledger.dispatch.retry_events`): a dead row goes back to `failed` and is started,
re-running a workflow that closed while its row was not completed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AdminDep, SessionMakerDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.temporal_errors import billing_unavailable
from ledger import dispatch as starts
from ledger import lookups
from models.event_admin import (
    EventRetryPublic,
    LedgerEventList,
    LedgerEventPublic,
    UnfinishedStatus,
)
from models.vocabulary import ErrorCode

router = APIRouter(prefix="/api/v1/stripe/events", tags=["operations"])

MAX_LIMIT = 1000


@router.get("", response_model=LedgerEventList, summary="Unfinished events of the ledger")
async def list_events(
    _admin: AdminDep,
    sessions: SessionMakerDep,
    status: Annotated[UnfinishedStatus | None, Query(description="all when absent")] = None,
    # Stripe's type shape: anything else matches no row, and may hold what SQL refuses (NUL).
    type: Annotated[
        str | None, Query(pattern=r"^[a-z0-9_.]{1,128}$", description="a Stripe event type")
    ] = None,
    workspace_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> LedgerEventList:
    statuses = [status] if status else list(UnfinishedStatus)
    async with sessions() as session:
        # One more than asked: says whether the list was cut.
        rows = await lookups.unfinished(
            session, statuses, event_type=type, workspace_id=workspace_id, limit=limit + 1
        )
    now = datetime.now(UTC)
    events = [LedgerEventPublic.from_row(row, now) for row in rows[:limit]]
    return LedgerEventList(events=events, truncated=len(rows) > limit)


@router.post(
    "/{event_id}/retry",
    response_model=EventRetryPublic,
    summary="Re-run one event through the normal workflow id policies",
)
async def retry_event(
    event_id: str,
    _admin: AdminDep,
    settings: SettingsDep,
    sessions: SessionMakerDep,
    temporal: TemporalDep,
) -> EventRetryPublic:
    [retried] = await starts.retry_events(
        temporal,
        sessions,
        settings.temporal_task_queue,
        [event_id],
        max_attempts=settings.stripe_webhook_max_attempts,
    )
    if retried.outcome == starts.NOT_FOUND:
        raise ApiError(404, ErrorCode.EVENT_NOT_FOUND, "no such event in the ledger")
    if retried.outcome == starts.FINAL:
        raise ApiError(
            409, ErrorCode.CONFLICT, f"the event is {retried.status}; only unfinished events rerun"
        )
    if retried.outcome == starts.TEMPORAL_UNAVAILABLE:
        raise billing_unavailable()
    return EventRetryPublic(
        event_id=retried.event_id,
        outcome=retried.outcome,
        status=retried.status,
        error=retried.error,
    )
