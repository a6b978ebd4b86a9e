"""`POST /api/v1/stripe/webhook`: verify, store in the ledger, start the event's workflow.

The route never waits for processing. It answers 200 only once the event is durable (row
stored and, for handled types, its workflow started); 503 otherwise so Stripe retries.
Duplicates of completed or ignored events are answered from PostgreSQL alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.event_metrics import WEBHOOKS_DUPLICATE, WEBHOOKS_IGNORED, WEBHOOKS_RECEIVED
from api.errors import ApiError
from api.started_events import RecentlyStarted
from core.config import Settings
from core.constants import HANDLED_EVENT_TYPES, SA_STRIPE_EVENT_TYPE, event_workflow_id
from models.event_payloads import StripeEventInput
from workflows.stripe_event import StripeEventWorkflow

router = APIRouter(tags=["webhooks"])
logger = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
# Ledger statuses after which an event is never processed again.
FINAL_STATUSES = ("completed", "ignored")

# One round trip: insert the event, or read the status of the row already there.
STORE_EVENT = text(
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


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", f"webhook body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "PAYLOAD_TOO_LARGE", f"webhook body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def verify_signature(body: bytes, header: str | None, secret: str, now: float) -> None:
    """Stripe's scheme: HMAC-SHA256 of `{t}.{body}`, any `v1` matching, t not too old."""
    if not header:
        raise ApiError(400, "INVALID_SIGNATURE", "missing Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise ApiError(400, "INVALID_SIGNATURE", "malformed Stripe-Signature header")
    expected = hmac.new(
        secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise ApiError(400, "INVALID_SIGNATURE", "signature does not match the payload")
    if timestamp < now - SIGNATURE_TOLERANCE_SECONDS:
        raise ApiError(400, "INVALID_SIGNATURE", "signature timestamp outside the tolerance")


def parse_event(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError included
        raise ApiError(400, "INVALID_PAYLOAD", "body is not JSON") from None
    if not isinstance(event, dict):
        raise ApiError(400, "INVALID_PAYLOAD", "body is not a JSON object")
    if not isinstance(event.get("id"), str) or not event["id"]:
        raise ApiError(400, "INVALID_PAYLOAD", "event has no id")
    if not isinstance(event.get("type"), str) or not event["type"]:
        raise ApiError(400, "INVALID_PAYLOAD", "event has no type")
    return event


async def store_event(engine: AsyncEngine, event: dict[str, Any], body: bytes) -> tuple[str, bool]:
    """(ledger status, whether this delivery inserted the row); 503 when not durable."""
    handled = event["type"] in HANDLED_EVENT_TYPES
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    created = event.get("created")
    params = {
        "id": event["id"],
        "type": event["type"],
        "payload": body.decode("utf-8"),
        "status": "pending" if handled else "ignored",
        "ignored": not handled,
        "created": created if isinstance(created, int) else None,
        "object_id": obj.get("id") if isinstance(obj, dict) else None,
    }
    try:
        # One atomic statement: autocommit spares the BEGIN/COMMIT round trips.
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            row = (await autocommit.execute(STORE_EVENT, params)).first()
    except Exception as exc:  # any DB failure: not durable, so Stripe must retry
        logger.warning("webhook %s not stored: %s: %s", event["id"], type(exc).__name__, exc)
        raise ApiError(503, "BILLING_UNAVAILABLE", "event could not be stored; retry") from None
    if row is None:
        # A concurrent delivery inserted it and had not committed when we looked.
        return "pending", False
    return str(row.status), bool(row.inserted)


async def start_event_workflow(
    client: Client, settings: Settings, event: dict[str, Any], started: RecentlyStarted
) -> None:
    """Start `stripe-event:{id}`: joins a running one; re-runs a failed one; never a
    completed one (ALLOW_DUPLICATE_FAILED_ONLY + USE_EXISTING)."""
    try:
        await client.start_workflow(
            StripeEventWorkflow.run,
            StripeEventInput(event_id=event["id"], event_type=event["type"]),
            id=event_workflow_id(event["id"]),
            task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(SA_STRIPE_EVENT_TYPE, event["type"])]
            ),
        )
    except WorkflowAlreadyStartedError:
        pass  # completed earlier: the ledger row is (about to be) completed too
    except Exception as exc:  # Temporal unreachable: the row stays pending for replay
        logger.warning("workflow for %s not started: %s", event["id"], type(exc).__name__)
        raise ApiError(503, "BILLING_UNAVAILABLE", "event stored but not started; retry") from None
    started.add(event["id"])


@router.post("/api/v1/stripe/webhook")
async def stripe_webhook(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    body = await read_body(request, settings.stripe_webhook_max_body_bytes)
    verify_signature(
        body,
        request.headers.get("stripe-signature"),
        settings.stripe_webhook_signing_secret,
        time.time(),
    )
    event = parse_event(body)
    event_type = event["type"]
    WEBHOOKS_RECEIVED.labels(event_type).inc()
    status, inserted = await store_event(request.app.state.engine, event, body)
    if not inserted:
        WEBHOOKS_DUPLICATE.labels(event_type).inc()
    if status == "ignored" and inserted:
        WEBHOOKS_IGNORED.labels(event_type).inc()
    started: RecentlyStarted = request.app.state.started_events
    # A redelivery of an event this process started is already in Temporal's hands; a
    # failed one is always started again so that it re-runs.
    if status not in FINAL_STATUSES and (status == "failed" or event["id"] not in started):
        await start_event_workflow(request.app.state.temporal, settings, event, started)
    return JSONResponse({"received": True, "duplicate": not inserted})
