"""Every write to `stripe_webhook_events`, and the reads the pipeline itself makes.

The webhook route stores deliveries, the Events API reconcile stores what the webhook
missed, the event workflow claims, completes or fails its row, the replay sweep finds rows
nobody is processing, operators reopen rows and the cleanup deletes finished ones — all
here. What support and operators read is `ledger.lookups`; starting `stripe-event:{id}` is
`ledger.dispatch`.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import defer
from ledger.rows import LedgerRow, Stored
from models.event_payloads import stripe_created
from models.vocabulary import FINAL_LEDGER_STATUSES, LedgerStatus

logger = logging.getLogger("billing.ledger")

FINAL_STATUSES = FINAL_LEDGER_STATUSES
_FINAL = list(FINAL_LEDGER_STATUSES)
# Cleaned after retention; `dead` rows are not: they wait for an operator.
_CLEANABLE = [LedgerStatus.COMPLETED, LedgerStatus.IGNORED]
UNFINISHED = (LedgerStatus.PENDING, LedgerStatus.PROCESSING, LedgerStatus.FAILED, LedgerStatus.DEAD)
# The longest last_error kept on a row: enough to diagnose, never a whole payload.
MAX_ERROR_CHARS = 2000
# NOTIFY channel of new pending rows.
CHANNEL = "billing_ledger"


class LedgerUnavailable(Exception):
    """The ledger could not store an event: it is not durable, so Stripe must retry."""


# One round trip: insert the event, or read the status of the row already there.
_STORE_DELIVERY = text(
    """
    WITH inserted AS (
        INSERT INTO stripe_webhook_events
            (id, type, payload, status, reason, attempts, source, stripe_created_at,
             stripe_object_id, processed_at)
        VALUES (:id, :type, CAST(:payload AS jsonb), :status, CAST(:reason AS varchar), 0,
                'webhook', to_timestamp(CAST(:created AS bigint)), :object_id,
                CASE WHEN CAST(:reason AS varchar) IS NOT NULL THEN now() END)
        ON CONFLICT (id) DO NOTHING
        RETURNING status
    )
    -- A new pending row wakes the worker's dispatcher (LISTEN billing_ledger).
    SELECT status, true AS inserted,
           CASE WHEN status = 'pending' THEN (SELECT true FROM pg_notify(:channel, :id)) END
    FROM inserted
    UNION ALL
    SELECT status, false, NULL FROM stripe_webhook_events
    WHERE id = :id AND NOT EXISTS (SELECT 1 FROM inserted)
    """
)
# One statement per chunk: the rows travel as one JSON array, unknown ids come back.
_STORE_RECOVERED = text(
    """
    INSERT INTO stripe_webhook_events
        (id, type, payload, status, reason, attempts, source, stripe_created_at,
         workspace_id, stripe_object_id, received_at, processed_at)
    SELECT r.id, r.type, r.payload, COALESCE(r.status, 'pending'), r.reason, 0, 'events_api',
           to_timestamp(r.created), CAST(r.workspace_id AS uuid), r.object_id, now(),
           CASE WHEN r.reason IS NOT NULL THEN now() END
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
        id text, type text, payload jsonb, created bigint, workspace_id text, object_id text,
        status text, reason text)
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
# The claim and, when the row is final, its current state, in one statement. `:counted` is
# 0 on a retry of the same run, whose first try already counted the attempt.
_CLAIM_OR_READ = text(
    """
    WITH claimed AS (
        UPDATE stripe_webhook_events SET status = 'processing',
            attempts = attempts + :counted, processing_started_at = now(),
            next_attempt_at = NULL
        WHERE id = :id AND status <> ALL(:final)
        RETURNING status, attempts, type, payload
    )
    SELECT status, attempts, type, payload, true AS claimed FROM claimed
    UNION ALL
    SELECT status, attempts, type, payload, false FROM stripe_webhook_events
    WHERE id = :id AND NOT EXISTS (SELECT 1 FROM claimed)
    """
)
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
# An attempt given up: `failed` and due again after a backoff (2^attempts minutes, at most
# 64), or `dead` once the attempts counted on the row reach the maximum. `:counted` is 1 when
# this failure is itself an attempt (a refused start), 0 when the claim already counted it.
_FAIL = text(
    """
    UPDATE stripe_webhook_events SET
        attempts = attempts + :counted,
        status = CASE WHEN attempts + :counted >= :max THEN 'dead' ELSE 'failed' END,
        last_error = :error,
        processing_started_at = NULL,
        next_attempt_at = CASE WHEN attempts + :counted >= :max THEN NULL
            ELSE now() + make_interval(mins => power(2, LEAST(attempts + :counted, 6))::int)
        END
    WHERE id = :id AND status <> ALL(:final)
    RETURNING status
    """
)
# A start lost to an outage is not the event's fault: noted, and the row stays due.
_NOTE_ERROR = text(
    "UPDATE stripe_webhook_events SET last_error = :error "
    "WHERE id = :id AND status <> ALL(:final)"
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
# Rows no start has claimed yet, oldest first: the dispatcher's work.
_UNSTARTED = text(
    "SELECT id, type, status FROM stripe_webhook_events WHERE status = 'pending' "
    "AND received_at < now() - make_interval(secs => :grace) ORDER BY received_at LIMIT :limit"
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
        WHERE status = ANY(:cleanable)
          AND COALESCE(processed_at, received_at) < now() - make_interval(days => :days)
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
)
_STATUS_OF = text("SELECT id, type, status FROM stripe_webhook_events WHERE id = ANY(:ids)")
_DEAD_IDS = text(
    "SELECT id FROM stripe_webhook_events WHERE status = 'dead' ORDER BY received_at, id "
    "LIMIT :limit"
)
# An operator's retry: a dead row is due again as `failed`, so the start re-runs a closed
# workflow; its attempts keep counting, so one more failure makes it dead again at once.
_REOPEN = text(
    "UPDATE stripe_webhook_events SET status = 'failed', next_attempt_at = now(), "
    "processing_started_at = NULL WHERE id = ANY(:ids) AND status = 'dead' RETURNING id"
)


async def store_delivery(
    engine: AsyncEngine, event: dict[str, Any], body: bytes, *, ignored_reason: str | None
) -> Stored:
    """Store a verified webhook delivery (`pending`, or `ignored` with `ignored_reason`), or
    read the row a previous delivery stored; `LedgerUnavailable` when not durable."""
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    object_id = obj.get("id") if isinstance(obj, dict) else None
    params = {
        "id": event["id"],
        "channel": CHANNEL,
        "type": event["type"],
        "payload": body.decode("utf-8"),
        "status": LedgerStatus.IGNORED if ignored_reason else LedgerStatus.PENDING,
        "reason": ignored_reason,
        "created": stripe_created(event.get("created")),
        # A hint for the trace only; an absurd one is not worth keeping.
        "object_id": object_id if isinstance(object_id, str) and len(object_id) <= 255 else None,
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
    """Store events read from the Events API (`pending` unless a row says `ignored` with its
    `reason`); the ids that were new."""
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


async def claim_at_once(
    sessions: async_sessionmaker[AsyncSession], event_id: str, *, count_attempt: bool
) -> tuple[bool, LedgerRow | None]:
    """`claim` committed on its own, in one round trip (autocommit: no BEGIN, no COMMIT);
    `count_attempt` False keeps the attempts of a run whose first try counted already."""
    params = {"id": event_id, "final": _FINAL, "counted": 1 if count_attempt else 0}
    async with sessions() as session:
        connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        row = (await connection.execute(_CLAIM_OR_READ, params)).first()
    if row is None:
        return False, None
    return bool(row.claimed), LedgerRow(row.status, row.attempts, row.type, row.payload)


async def mark_completed(
    session: AsyncSession, event_id: str, workspace_id: str | None, object_id: str | None
) -> None:
    """In the transaction of the billing change itself, sent with its commit: the effect
    commits once."""
    await defer(
        session,
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
    workspace = uuid.UUID(workspace_id) if workspace_id else None
    params = {"id": event_id, "reason": reason, "w": workspace, "o": object_id}
    await session.execute(_IGNORE, params)


async def mark_failed(
    session: AsyncSession, event_id: str, error: str, *, max_attempts: int, counted: bool = False
) -> str | None:
    """Given up for now: `failed` with the error and due again after a backoff, or `dead`
    once its attempts reach `max_attempts`; the new status, None if the row was final.

    `counted` adds this failure to the attempts (a start Temporal refused); a failed run
    was already counted by its claim."""
    params = {
        "id": event_id,
        "error": error[:MAX_ERROR_CHARS],
        "max": max_attempts,
        "counted": 1 if counted else 0,
        "final": _FINAL,
    }
    return (await session.execute(_FAIL, params)).scalar()


async def due_events(
    session: AsyncSession,
    *,
    pending_age_seconds: float,
    claim_ttl_seconds: int,
    after_received_at: datetime | None,
    after_id: str | None,
    limit: int,
) -> list[Any]:
    """Rows nobody is processing: pending (unstarted), failed (due again), claimed too long.
    Never `dead` ones: they wait for an operator."""
    params = {
        "pending_age": pending_age_seconds,
        "claim_ttl": claim_ttl_seconds,
        "after_at": after_received_at,
        "after_id": after_id,
        "limit": limit,
    }
    return list(await session.execute(_DUE, params))


async def unstarted(session: AsyncSession, *, grace_seconds: float, limit: int) -> list[Any]:
    """Pending rows older than `grace_seconds` (the API starts younger ones itself)."""
    params = {"grace": grace_seconds, "limit": limit}
    return list(await session.execute(_UNSTARTED, params))


async def in_flight_objects(session: AsyncSession) -> set[Any]:
    """Workspaces and Stripe objects the event pipeline is about to work on."""
    busy: set[Any] = set()
    for row in await session.execute(_IN_FLIGHT):
        busy.update(v for v in (row.workspace_id, row.stripe_object_id) if v is not None)
    return busy


async def delete_finished(session: AsyncSession, *, older_than_days: int, limit: int) -> int:
    """Delete up to `limit` completed or ignored rows past retention; never unfinished or
    dead ones."""
    params = {"days": older_than_days, "limit": limit, "cleanable": _CLEANABLE}
    deleted = await session.execute(_DELETE_FINISHED, params)
    return deleted.rowcount or 0  # type: ignore[attr-defined]


async def statuses_of(session: AsyncSession, event_ids: Sequence[str]) -> dict[str, Any]:
    """id → (id, type, status) of the rows that exist."""
    rows = await session.execute(_STATUS_OF, {"ids": list(event_ids)})
    return {row.id: row for row in rows}


async def note_error(session: AsyncSession, event_id: str, error: str) -> None:
    """Record an error that is not the event's fault (an outage); the row stays due."""
    await session.execute(
        _NOTE_ERROR, {"id": event_id, "error": error[:MAX_ERROR_CHARS], "final": _FINAL}
    )


async def dead_ids(session: AsyncSession, limit: int) -> list[str]:
    return list((await session.execute(_DEAD_IDS, {"limit": limit})).scalars())


async def reopen_dead(session: AsyncSession, event_ids: Sequence[str]) -> set[str]:
    """Dead rows back to `failed`, due now; the ids that were dead."""
    return set((await session.execute(_REOPEN, {"ids": list(event_ids)})).scalars())
