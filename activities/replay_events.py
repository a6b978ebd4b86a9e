"""Reconcile from Stripe's Events API: store and start every handled event the webhook missed."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from prometheus_client import Counter, Gauge
from sqlalchemy import text
from temporalio import activity

from activities.deps import ActivityDeps
from activities.replay import dispatch_events
from core.constants import HANDLED_EVENT_TYPES
from core.db import transaction
from core.stripe_gateway import shared_gateway, stripe_error
from models.event_payloads import event_hints
from models.schedule_payloads import EventsReconcileInput, EventsReconcileResult

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

CURSOR_LAG = Gauge(
    "billing_replay_cursor_lag_seconds",
    "How far the Events API reconcile cursor is behind now (warns past 25 days)",
)
EVENTS_RECOVERED = Counter(
    "billing_replay_events_recovered",
    "Handled events found in the Events API that the webhook never stored",
    ["event_type"],
)

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
# One statement per chunk: the rows travel as one JSON array, unknown ids come back.
INSERT_EVENTS = text(
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


def _uuid_text(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


def _row(event: dict[str, Any]) -> dict[str, Any]:
    hints = event_hints(event)
    return {
        "id": event["id"],
        "type": event["type"],
        "payload": event,
        "created": event["created"],
        "workspace_id": _uuid_text(hints.workspace_id),
        "object_id": hints.object_id,
    }


def raw_events(page: Any) -> list[dict[str, Any]]:
    """The events exactly as Stripe sent them (the SDK turns decimal strings into Decimal)."""
    response = page.last_response
    body = response.data if response is not None else None
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        return [dict(event) for event in body["data"]]
    return [event.to_dict(for_json=True) for event in page.data]


class EventsReconcileActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps

    async def _cursor(self) -> int | None:
        async with transaction(self._deps.sessions) as session:
            value = (await session.execute(READ_CURSOR, {"name": CURSOR_NAME})).scalar()
        return int(value) if value is not None else None

    async def _list_since(self, since: int) -> list[dict[str, Any]]:
        """Every handled event created at or after `since`, newest first (Stripe's order)."""
        gateway = shared_gateway(self._deps)
        params: Any = {
            "types": list(HANDLED_EVENT_TYPES),
            "created": {"gte": since},
            "limit": PAGE_SIZE,
        }
        events: list[dict[str, Any]] = []
        while True:
            await gateway.bucket.acquire()
            try:
                page = await gateway.client.v1.events.list_async(params)
            except stripe.StripeError as exc:
                raise stripe_error(exc, "events.list") from None
            events.extend(raw_events(page))
            activity.heartbeat({"phase": "listing", "listed": len(events)})
            if not page.has_more or not page.data:
                return events
            params["starting_after"] = page.data[-1].id

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
        events = await self._list_since(since)
        events.reverse()  # oldest first: apply in the order Stripe created them
        result = EventsReconcileResult(listed=len(events))
        for start in range(0, len(events), CHUNK):
            chunk = events[start : start + CHUNK]
            async with transaction(self._deps.sessions) as session:
                stored = await session.execute(
                    INSERT_EVENTS, {"rows": json.dumps([_row(e) for e in chunk])}
                )
                inserted = set(stored.scalars())
            fresh = [(e["id"], e["type"], "pending") for e in chunk if e["id"] in inserted]
            dispatched = await dispatch_events(
                activity.client(), settings.temporal_task_queue, fresh
            )
            for event in chunk:
                if event["id"] in inserted:
                    EVENTS_RECOVERED.labels(event_type=event["type"]).inc()
            result.inserted += len(inserted)
            result.dispatched += dispatched.dispatched
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
            CURSOR_LAG.set(lag)
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
