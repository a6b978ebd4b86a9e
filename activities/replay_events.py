"""Reconcile from Stripe's Events API: store and start every handled event the webhook missed."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from temporalio import activity

from activities.deps import ActivityDeps
from activities.failures import reported
from core.constants import HANDLED_EVENT_TYPES
from core.db import transaction
from core.metrics import REPLAY_CURSOR_LAG, REPLAY_EVENTS_RECOVERED
from ledger import dispatch as starts
from ledger import events as ledger
from models.event_payloads import event_hints, stripe_created
from models.schedule_payloads import MAX_SKIPPED_IDS, EventsReconcileInput, EventsReconcileResult
from models.vocabulary import LedgerStatus
from rules.event_shape import event_problem, ignored_reason

logger = logging.getLogger("billing.replay")

# Unix seconds up to which every handled event is in the ledger (or being started).
CURSOR_NAME = "stripe-events"
# Events appear in the list with a small delay and share seconds: re-read this much behind.
CURSOR_OVERLAP = timedelta(minutes=5)
# Stripe keeps events 30 days; past this lag the next outage could lose events for good.
CURSOR_LAG_WARNING = timedelta(days=25)
PAGE_SIZE = 100
# Events stored (and started) per transaction; the cursor advances after each chunk.
CHUNK = 500

READ_CURSOR = text("SELECT value FROM billing_cursors WHERE name = :name")
# The cursor only moves forward, even if two runs overlap.
WRITE_CURSOR = text(
    """
    INSERT INTO billing_cursors (name, value, updated_at) VALUES (:name, :value, now())
    ON CONFLICT (name) DO UPDATE SET
        value = GREATEST(billing_cursors.value::bigint, EXCLUDED.value::bigint)::text,
        updated_at = now()
    """
)

def _uuid_text(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


def _storable(event: dict[str, Any]) -> bool:
    """The webhook door's rule, and a `created` to order and page by: Stripe's own events
    always pass; anything else would only sink the run."""
    return event_problem(event) is None and stripe_created(event.get("created")) is not None


def _row(event: dict[str, Any]) -> dict[str, Any]:
    hints = event_hints(event)
    reason = ignored_reason(event)
    return {
        "id": event["id"],
        "type": event["type"],
        "payload": event,
        "created": event["created"],
        "workspace_id": _uuid_text(hints.workspace_id),
        "object_id": None if reason else hints.object_id,
        "status": LedgerStatus.IGNORED if reason else LedgerStatus.PENDING,
        "reason": reason,
    }


class EventsReconcileActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    async def _cursor(self) -> int | None:
        async with transaction(self._deps.sessions) as session:
            value = (await session.execute(READ_CURSOR, {"name": CURSOR_NAME})).scalar()
        return int(value) if value is not None else None

    async def _list_since(self, since: int) -> list[dict[str, Any]]:
        """Every handled event created at or after `since`, newest first (Stripe's order)."""
        gateway = self._deps.gateway
        params: Any = {
            "types": list(HANDLED_EVENT_TYPES),
            "created": {"gte": since},
            "limit": PAGE_SIZE,
        }
        events: list[dict[str, Any]] = []
        async for event in gateway.each("events.list", gateway.client.v1.events.list_async(params)):
            # As Stripe sent it: decimal strings stay strings, not the SDK's Decimal.
            events.append(event.to_dict(for_json=True))
            if len(events) % PAGE_SIZE == 0:
                activity.heartbeat({"phase": "listing", "listed": len(events)})
        return events

    @activity.defn(name="replay.reconcile_events")
    async def reconcile_events(self, input: EventsReconcileInput) -> EventsReconcileResult:
        """List handled events since the cursor; store the unknown ones and start them.

        Known events (stored by the webhook) are skipped by the insert: the ledger dedupes,
        so a webhook that arrives later, or an overlap with the previous run, does nothing.
        """
        settings = self._deps.settings
        now = datetime.now(UTC)
        cursor = await self._cursor()
        if cursor is None:
            days = min(input.lookback_days or settings.stripe_replay_lookback_days, 30)
            since = int((now - timedelta(days=days)).timestamp())
        else:
            since = cursor - int(CURSOR_OVERLAP.total_seconds())
        with reported():
            listed = await self._list_since(since)
        listed.reverse()  # oldest first: apply in the order Stripe created them
        events = [e for e in listed if _storable(e)]
        result = EventsReconcileResult(listed=len(listed), invalid=len(listed) - len(events))
        if result.invalid:
            logger.warning("Events API listed %d events not of Stripe's shape", result.invalid)
        for start in range(0, len(events), CHUNK):
            chunk = events[start : start + CHUNK]
            rows = [_row(e) for e in chunk]
            async with transaction(self._deps.sessions) as session:
                inserted = await ledger.store_recovered(session, rows)
            fresh = [
                (r["id"], r["type"], r["status"])
                for r in rows
                if r["id"] in inserted and r["status"] == LedgerStatus.PENDING
            ]
            dispatched = await starts.dispatch_events(
                activity.client(),
                self._deps.sessions,
                settings.temporal_task_queue,
                fresh,
                max_attempts=settings.stripe_webhook_max_attempts,
            )
            for event in chunk:
                if event["id"] in inserted:
                    REPLAY_EVENTS_RECOVERED.labels(event_type=event["type"]).inc()
            result.inserted += len(inserted)
            result.dispatched += dispatched.dispatched
            result.start_refused += dispatched.start_refused
            result.start_unavailable += dispatched.start_unavailable
            result.dead += dispatched.dead
            room = MAX_SKIPPED_IDS - len(result.skipped_ids)
            result.skipped_ids.extend(dispatched.skipped_ids[: max(room, 0)])
            newest = max(e["created"] for e in chunk)
            async with transaction(self._deps.sessions) as session:
                await session.execute(WRITE_CURSOR, {"name": CURSOR_NAME, "value": str(newest)})
            activity.heartbeat({"phase": "storing", "stored": start + len(chunk)})
        # The whole list was read when it started: everything created before then is known.
        async with transaction(self._deps.sessions) as session:
            await session.execute(
                WRITE_CURSOR, {"name": CURSOR_NAME, "value": str(int(now.timestamp()))}
            )
        final = await self._cursor()
        if final is not None:
            result.cursor = datetime.fromtimestamp(final, UTC)
            lag = max(0.0, (now - result.cursor).total_seconds())
            result.cursor_lag_seconds = lag
            REPLAY_CURSOR_LAG.set(lag)
            if lag > CURSOR_LAG_WARNING.total_seconds():
                logger.warning(
                    "Events API cursor is %.1f days behind; Stripe keeps events 30 days",
                    lag / 86400,
                )
        if result.inserted:
            logger.warning(
                "replay recovered %d events the webhook never delivered", result.inserted
            )
        return result
