"""Every statement on `stripe_webhook_events`, and the one way to start `stripe-event:{id}`.

The webhook route stores deliveries, the Events API reconcile stores what the webhook
missed, the event workflow claims, completes or fails its row, the replay sweep finds rows
nobody is processing, the cleanup deletes finished ones and the support trace reads them —
all here. Whoever starts an event's workflow goes through `start_event_workflow`, so every
path uses the same workflow id and id policies and a row is applied once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from core.constants import HANDLED_EVENT_TYPES, SA_STRIPE_EVENT_TYPE, event_workflow_id
from models.event_payloads import StripeEventInput
from models.schedule_payloads import DispatchResult
from models.vocabulary import FINAL_LEDGER_STATUSES, LedgerStatus

logger = logging.getLogger("billing.ledger")

EVENT_WORKFLOW = "StripeEventWorkflow"
FINAL_STATUSES = FINAL_LEDGER_STATUSES
_FINAL = list(FINAL_LEDGER_STATUSES)
# The longest last_error kept on a row: enough to diagnose, never a whole payload.
MAX_ERROR_CHARS = 2000
# Concurrent start RPCs of one dispatch: fast, yet far below the server's limits.
START_CONCURRENCY = 20


class LedgerUnavailable(Exception):
    """The ledger could not store an event: it is not durable, so Stripe must retry."""


# One round trip: insert the event, or read the status of the row already there.
_STORE_DELIVERY = text(
    """
    WITH inserted AS (
        INSERT INTO stripe_webhook_events
            (id, type, payload, status, attempts, source, stripe_created_at,
             stripe_object_id, processed_at)
        VALUES (:id, :type, CAST(:payload AS jsonb), :status, 0, 'webhook',
                to_timestamp(CAST(:created AS bigint)), :object_id,
                CASE WHEN CAST(:ignored AS boolean) THEN now() END)
        ON CONFLICT (id) DO NOTHING
        RETURNING status
    )
    SELECT status, true AS inserted FROM inserted
    UNION ALL
    SELECT status, false FROM stripe_webhook_events
    WHERE id = :id AND NOT EXISTS (SELECT 1 FROM inserted)
    """
)
# One statement per chunk: the rows travel as one JSON array, unknown ids come back.
_STORE_RECOVERED = text(
    """
    INSERT INTO stripe_webhook_events
        (id, type, payload, status, attempts, source, stripe_created_at, workspace_id,
         stripe_object_id, received_at)
    SELECT r.id, r.type, r.payload, 'pending', 0, 'events_api', to_timestamp(r.created),
           CAST(r.workspace_id AS uuid), r.object_id, now()
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
        id text, type text, payload jsonb, created bigint, workspace_id text, object_id text)
    ORDER BY r.created
    ON CONFLICT (id) DO NOTHING
    RETURNING id
    """
)
_CLAIM = text(
    "UPDATE stripe_webhook_events SET status = 'processing', attempts = attempts + 1, "
    "processing_started_at = now(), next_attempt_at = NULL WHERE id = :id "
    "AND status <> ALL(:final) RETURNING status, attempts, type, payload"
)
_READ = text("SELECT status, attempts, type, payload FROM stripe_webhook_events WHERE id = :id")
_COMPLETE = text(
    "UPDATE stripe_webhook_events SET status = 'completed', processed_at = clock_timestamp(), "
    "last_error = NULL, processing_started_at = NULL, "
    "workspace_id = COALESCE(CAST(:w AS uuid), workspace_id), "
    "stripe_object_id = COALESCE(:o, stripe_object_id) WHERE id = :id"
)
_IGNORE = text(
    "UPDATE stripe_webhook_events SET status = 'ignored', reason = :reason, "
    "processed_at = clock_timestamp(), last_error = NULL, processing_started_at = NULL, "
    "workspace_id = COALESCE(CAST(:w AS uuid), workspace_id), "
    "stripe_object_id = COALESCE(:o, stripe_object_id) WHERE id = :id"
)
_FAIL = text(
    "UPDATE stripe_webhook_events SET status = 'failed', last_error = :error, "
    "processing_started_at = NULL, next_attempt_at = now() "
    "+ make_interval(mins => power(2, LEAST(attempts, 6))::int) "
    "WHERE id = :id AND status <> 'completed' RETURNING id"
)
_DUE = text(
    """
    SELECT id, type, status, received_at FROM stripe_webhook_events
    WHERE (
        (status = 'pending' AND received_at < now() - make_interval(secs => :pending_age))
        OR (status = 'failed' AND (next_attempt_at IS NULL OR next_attempt_at <= now()))
        OR (status = 'processing'
            AND COALESCE(processing_started_at, received_at)
                < now() - make_interval(secs => :claim_ttl))
    )
    AND (CAST(:after_at AS timestamptz) IS NULL
         OR (received_at, id) > (CAST(:after_at AS timestamptz), CAST(:after_id AS text)))
    ORDER BY received_at, id
    LIMIT :limit
    """
)
_IN_FLIGHT = text(
    "SELECT DISTINCT workspace_id, stripe_object_id FROM stripe_webhook_events "
    "WHERE status IN ('pending', 'processing')"
)
# Bounded: short locks, and a crash loses at most one batch's work.
_DELETE_FINISHED = text(
    """
    DELETE FROM stripe_webhook_events
    WHERE id IN (
        SELECT id FROM stripe_webhook_events
        WHERE status = ANY(:final)
          AND COALESCE(processed_at, received_at) < now() - make_interval(days => :days)
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
)
_OF_WORKSPACE = text(
    """
    SELECT id, type, status, attempts, last_error, source, stripe_created_at, received_at,
           processed_at, stripe_object_id
    FROM stripe_webhook_events
    WHERE workspace_id = :w
       OR stripe_object_id = ANY(:objects)
       OR payload #>> '{data,object,customer}' = ANY(:customers)
       OR payload #>> '{data,object,subscription}' = ANY(:objects)
       OR payload #>> '{data,object,client_reference_id}' = :ws
       OR payload #>> '{data,object,metadata,workspace_id}' = :ws
    ORDER BY received_at, id
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class Stored:
    status: str
    inserted: bool


@dataclass(frozen=True)
class LedgerRow:
    status: str
    attempts: int
    type: str
    payload: dict[str, Any] | None


async def store_delivery(engine: AsyncEngine, event: dict[str, Any], body: bytes) -> Stored:
    """Store a verified webhook delivery (handled types `pending`, others `ignored`), or
    read the row a previous delivery stored; `LedgerUnavailable` when not durable."""
    handled = event["type"] in HANDLED_EVENT_TYPES
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    created = event.get("created")
    params = {
        "id": event["id"],
        "type": event["type"],
        "payload": body.decode("utf-8"),
        "status": LedgerStatus.PENDING if handled else LedgerStatus.IGNORED,
        "ignored": not handled,
        "created": created if isinstance(created, int) else None,
        "object_id": obj.get("id") if isinstance(obj, dict) else None,
    }
    try:
        # One atomic statement: autocommit spares the BEGIN/COMMIT round trips.
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            row = (await autocommit.execute(_STORE_DELIVERY, params)).first()
    except Exception as exc:  # any DB failure: not durable, so Stripe must retry
        logger.warning("event %s not stored: %s: %s", event["id"], type(exc).__name__, exc)
        raise LedgerUnavailable(event["id"]) from None
    if row is None:
        # A concurrent delivery inserted it and had not committed when we looked.
        return Stored(LedgerStatus.PENDING, False)
    return Stored(str(row.status), bool(row.inserted))


async def store_recovered(session: AsyncSession, rows: list[dict[str, Any]]) -> set[str]:
    """Store events read from the Events API as `pending`; the ids that were new."""
    stored = await session.execute(_STORE_RECOVERED, {"rows": json.dumps(rows)})
    return set(stored.scalars())


async def claim(session: AsyncSession, event_id: str) -> tuple[bool, LedgerRow | None]:
    """Mark the row `processing` (attempts + 1) unless it is final; (claimed, row)."""
    row = (await session.execute(_CLAIM, {"id": event_id, "final": _FINAL})).first()
    claimed = row is not None
    if row is None:
        row = (await session.execute(_READ, {"id": event_id})).first()
    if row is None:
        return False, None
    return claimed, LedgerRow(row.status, row.attempts, row.type, row.payload)


async def mark_completed(
    session: AsyncSession, event_id: str, workspace_id: str | None, object_id: str | None
) -> None:
    """In the transaction of the billing change itself: the effect commits once."""
    await session.execute(
        _COMPLETE,
        {"id": event_id, "w": uuid.UUID(workspace_id) if workspace_id else None, "o": object_id},
    )


async def mark_ignored(
    session: AsyncSession,
    event_id: str,
    reason: str,
    workspace_id: str | None = None,
    object_id: str | None = None,
) -> None:
    """Final without effect, with why (e.g. `not_ours`): never retried, cleaned like completed
    rows."""
    await session.execute(
        _IGNORE,
        {
            "id": event_id,
            "reason": reason,
            "w": uuid.UUID(workspace_id) if workspace_id else None,
            "o": object_id,
        },
    )


async def mark_failed(session: AsyncSession, event_id: str, error: str) -> bool:
    """Given up for now: `failed` with the error, due again after a backoff; False if the
    row was completed meanwhile."""
    marked = await session.execute(_FAIL, {"id": event_id, "error": error[:MAX_ERROR_CHARS]})
    return marked.first() is not None


async def due_events(
    session: AsyncSession,
    *,
    pending_age_seconds: float,
    claim_ttl_seconds: int,
    after_received_at: datetime | None,
    after_id: str | None,
    limit: int,
) -> list[Any]:
    """Rows nobody is processing: pending (unstarted), failed (due again), claimed too long."""
    params = {
        "pending_age": pending_age_seconds,
        "claim_ttl": claim_ttl_seconds,
        "after_at": after_received_at,
        "after_id": after_id,
        "limit": limit,
    }
    return list(await session.execute(_DUE, params))


async def in_flight_objects(session: AsyncSession) -> set[Any]:
    """Workspaces and Stripe objects the event pipeline is about to work on."""
    busy: set[Any] = set()
    for row in await session.execute(_IN_FLIGHT):
        busy.update(v for v in (row.workspace_id, row.stripe_object_id) if v is not None)
    return busy


async def delete_finished(session: AsyncSession, *, older_than_days: int, limit: int) -> int:
    """Delete up to `limit` completed or ignored rows past retention; never unfinished ones."""
    params = {"days": older_than_days, "limit": limit, "final": _FINAL}
    deleted = await session.execute(_DELETE_FINISHED, params)
    return deleted.rowcount or 0  # type: ignore[attr-defined]


async def of_workspace(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    objects: set[str],
    customers: set[str],
    limit: int,
) -> list[Any]:
    """Every event of a workspace or its Stripe objects, oldest first (the support trace)."""
    params = {
        "w": workspace_id,
        "ws": str(workspace_id),
        "objects": sorted(objects | customers),
        "customers": sorted(customers),
        "limit": limit,
    }
    return list((await session.execute(_OF_WORKSPACE, params)).all())


async def start_event_workflow(
    client: Client, task_queue: str, event_id: str, event_type: str, *, rerun_closed: bool = False
) -> bool:
    """Start `stripe-event:{id}`; False if a closed run already has that id.

    The id is the dedupe: a running workflow is joined (USE_EXISTING), a failed one re-run
    (ALLOW_DUPLICATE_FAILED_ONLY). `rerun_closed` also re-runs a workflow that completed
    while its row still says `failed`, because the ledger, not Temporal's history, says
    whether an event was applied.
    """
    reuse = (
        WorkflowIDReusePolicy.ALLOW_DUPLICATE
        if rerun_closed
        else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
    )
    try:
        await client.start_workflow(
            EVENT_WORKFLOW,
            StripeEventInput(event_id=event_id, event_type=event_type),
            id=event_workflow_id(event_id),
            task_queue=task_queue,
            id_reuse_policy=reuse,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(SA_STRIPE_EVENT_TYPE, event_type)]
            ),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def dispatch_events(
    client: Client, task_queue: str, events: Sequence[tuple[str, str, str]]
) -> DispatchResult:
    """Start the workflow of each (id, type, status) with bounded concurrency; a `failed`
    row whose workflow completed is re-run, since its row says it was not applied."""
    result = DispatchResult()
    gate = asyncio.Semaphore(START_CONCURRENCY)

    async def one(event_id: str, event_type: str, status: str) -> None:
        async with gate:
            started = await start_event_workflow(client, task_queue, event_id, event_type)
            if not started and status == "failed":
                started = await start_event_workflow(
                    client, task_queue, event_id, event_type, rerun_closed=True
                )
        if started:
            result.dispatched += 1
        else:
            result.already_done += 1
        if status == "processing":
            result.stale_claims += 1

    await asyncio.gather(*(one(*event) for event in events))
    return result
