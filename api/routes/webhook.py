"""`POST /api/v1/stripe/webhook`: verify, store in the ledger, start the event's workflow.

The route never waits for processing, nor for Temporal: it answers 200 once the event's row
is committed in the ledger (the dedupe of record), and starts the event's workflow in a task
of its own beside the answer (`api.after_ack`); the worker's dispatcher
(`ledger/dispatcher.py`) starts any row that start missed — Temporal down, the API killed —
within seconds. 503 only when the row could not be stored, so Stripe retries.
Duplicates of completed or ignored events are answered from PostgreSQL alone. What Stripe
never sends (an id or type not of its shape) is refused before anything is stored; a handled
event whose object id is absurd is stored `ignored` (`invalid_object`) and answered 200.
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.after_ack import AfterAck
from api.bodies import decode_json
from api.db import within_deadline
from api.errors import ApiError
from api.started_events import RecentlyStarted
from core.config import Settings
from core.metrics import (
    WEBHOOKS_API_VERSION_MISMATCH,
    WEBHOOKS_DUPLICATE,
    WEBHOOKS_IGNORED,
    WEBHOOKS_RECEIVED,
)
from ledger import dispatch as starts
from ledger import events as ledger
from models.vocabulary import ErrorCode, IgnoredReason
from rules.event_shape import event_problem, ignored_reason

router = APIRouter(tags=["webhooks"])
logger = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
# Stripe sends one t and one or two v1 (during a secret roll): a few hundred characters.
MAX_SIGNATURE_HEADER_CHARS = 4096
# Stripe's events nest about ten levels (event, data, object, items, price, metadata, ...).
MAX_EVENT_NESTING = 64


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, f"webhook body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, f"webhook body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def verify_signature(body: bytes, header: str | None, secret: str) -> None:
    """Stripe's scheme, checked by the SDK: HMAC-SHA256 of `{t}.{body}`, any `v1` matching,
    `t` within the tolerance. Every malformed header is a 400, never an exception: the
    SDK's parser is fed only short ASCII headers, and what it raises besides its own error
    (a `t` too long to be a number, a body that is not UTF-8) is a refusal too."""
    if not header:
        raise ApiError(400, ErrorCode.INVALID_SIGNATURE, "missing Stripe-Signature header")
    if len(header) > MAX_SIGNATURE_HEADER_CHARS or not header.isascii():
        raise ApiError(400, ErrorCode.INVALID_SIGNATURE, "malformed Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(
            body, header, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
    except (stripe.SignatureVerificationError, ValueError, TypeError):
        raise ApiError(
            400, ErrorCode.INVALID_SIGNATURE, "signature does not match the payload"
        ) from None


def parse_event(body: bytes) -> dict[str, Any]:
    try:
        event = decode_json(body.decode("utf-8"), max_nesting=MAX_EVENT_NESTING)
    except ValueError:  # UnicodeDecodeError included
        raise ApiError(400, ErrorCode.INVALID_PAYLOAD, "body is not JSON") from None
    if not isinstance(event, dict):
        raise ApiError(400, ErrorCode.INVALID_PAYLOAD, "body is not a JSON object")
    problem = event_problem(event)
    if problem is not None:
        raise ApiError(400, ErrorCode.INVALID_PAYLOAD, problem)
    return event


def count_api_version(event: dict[str, Any], configured: str) -> None:
    """Still processed (handlers re-fetch in our version), but an endpoint pinned to another
    version than STRIPE_API_VERSION is worth an operator's look."""
    version = event.get("api_version")
    if isinstance(version, str) and version != configured:
        # Bounded label values: a verified sender, but never an arbitrary string as a label.
        shaped = len(version) <= 40 and version.replace("-", "").replace(".", "").isalnum()
        WEBHOOKS_API_VERSION_MISMATCH.labels(version if shaped else "other").inc()


async def start_event_workflow(
    request: Request, settings: Settings, event_id: str, event_type: str, status: str
) -> None:
    """Start the event's workflow, after the answer was sent (`api.after_ack`: the request's
    connection is free meanwhile). Nothing here reaches Stripe: a
    start Temporal refuses is recorded on the row (an attempt, then `dead`), and one lost to
    an outage leaves the row pending for the worker's dispatcher, which starts it within
    seconds of Temporal answering again (the replay sweep stays the last net)."""
    try:
        done = await starts.dispatch(
            request.app.state.temporal,
            request.app.state.sessions,
            settings.temporal_task_queue,
            [(event_id, event_type, status)],
            max_attempts=settings.stripe_webhook_max_attempts,
        )
    except Exception as exc:  # the dispatcher picks the row up; never an unhandled error
        logger.warning("event %s not started after the ack: %s", event_id, type(exc).__name__)
        return
    if done.result.dispatched:
        started: RecentlyStarted = request.app.state.started_events
        started.add(event_id)


@router.post("/api/v1/stripe/webhook")
async def stripe_webhook(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    body = await read_body(request, settings.stripe_webhook_max_body_bytes)
    verify_signature(
        body,
        request.headers.get("stripe-signature"),
        settings.stripe_webhook_signing_secret,
    )
    event = parse_event(body)
    event_type = event["type"]
    WEBHOOKS_RECEIVED.labels(event_type).inc()
    count_api_version(event, settings.stripe_api_version)
    reason = ignored_reason(event)
    try:
        # The webhook's own pool, and a deadline the client enforces: Stripe gets 503 in
        # seconds, never a hang, whatever PostgreSQL or the other routes are doing.
        stored = await within_deadline(
            ledger.store_delivery(
                request.app.state.webhook_engine, event, body, ignored_reason=reason
            ),
            settings.api_db_timeout_seconds,
        )
    except (ledger.LedgerUnavailable, TimeoutError):
        raise ApiError(
            503, ErrorCode.BILLING_UNAVAILABLE, "event could not be stored; retry"
        ) from None
    status, inserted = stored.status, stored.inserted
    if not inserted:
        WEBHOOKS_DUPLICATE.labels(event_type).inc()
    elif reason == IgnoredReason.UNHANDLED_TYPE:
        WEBHOOKS_IGNORED.labels(event_type).inc()
    elif reason == IgnoredReason.INVALID_OBJECT:
        logger.warning("event %s (%s) names no valid object; ignored", event["id"], event_type)
    started: RecentlyStarted = request.app.state.started_events
    answer = JSONResponse({"received": True, "duplicate": not inserted})
    # Durable now: Stripe gets its 200 at once, and the start runs beside the answer. A
    # redelivery of an event this process started is already in Temporal's hands; a failed
    # one is always started again so that it re-runs.
    if status not in ledger.FINAL_STATUSES and (status == "failed" or event["id"] not in started):
        after_ack: AfterAck = request.app.state.after_ack
        after_ack.spawn(start_event_workflow(request, settings, event["id"], event_type, status))
    return answer
