"""Inputs and results of the scheduled workflows (replay, grace, cleanup) and their activities."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ReplayInput(BaseModel):
    """All defaults: a schedule starts the workflow without arguments; overrides are for ops."""

    batch_size: int | None = None  # None: STRIPE_RETRY_BATCH_SIZE
    reconcile_events: bool = True
    reconcile_objects: bool = True
    max_batches: int = Field(default=100, gt=0)  # bound one run; the next period continues


class ReplayResult(BaseModel):
    events_listed: int = 0
    events_inserted: int = 0
    events_dispatched: int = 0
    stale_claims: int = 0
    cursor: datetime | None = None
    cursor_lag_seconds: float | None = None
    subscriptions_checked: int = 0
    mismatches: int = 0
    mismatched_subscriptions: list[str] = Field(default_factory=list)
    # What the run went past instead of failing, by reason (SKIP_* below), and which ones.
    skipped: dict[str, int] = Field(default_factory=dict)
    skipped_ids: list[str] = Field(default_factory=list)
    # Rows whose attempts ran out during this run (now `dead`, waiting for an operator).
    events_dead: int = 0


# Why a replay run went past an event or a subscription (keys of `ReplayResult.skipped`).
SKIP_START_REFUSED = "start_refused"  # Temporal refused the event's start; attempt counted
SKIP_TEMPORAL_UNAVAILABLE = "temporal_unavailable"  # the start was lost to an outage
SKIP_INVALID_EVENT = "invalid_event"  # listed by the Events API, not of Stripe's shape
SKIP_RECONCILE_FAILED = "reconcile_failed"  # one subscription's reconcile failed
MAX_SKIPPED_IDS = 100


class DueEventsInput(BaseModel):
    batch_size: int | None = None  # None: STRIPE_RETRY_BATCH_SIZE
    # Keyset position: rows strictly after (received_at, id), so one run never loops.
    after_received_at: datetime | None = None
    after_id: str | None = None


class DueEvent(BaseModel):
    id: str
    type: str
    status: str
    received_at: datetime


class DueEventsResult(BaseModel):
    events: list[DueEvent] = Field(default_factory=list)
    has_more: bool = False


class DispatchInput(BaseModel):
    events: list[DueEvent]


class DispatchResult(BaseModel):
    dispatched: int = 0
    already_running: int = 0
    already_done: int = 0
    stale_claims: int = 0
    start_refused: int = 0  # refused by Temporal for the event itself: recorded on its row
    start_unavailable: int = 0  # lost to an outage: noted on the row, which stays due
    dead: int = 0  # rows whose attempts ran out here
    skipped_ids: list[str] = Field(default_factory=list)  # bounded


class EventsReconcileInput(BaseModel):
    lookback_days: int | None = None  # None: STRIPE_REPLAY_LOOKBACK_DAYS


class EventsReconcileResult(BaseModel):
    listed: int = 0
    inserted: int = 0
    dispatched: int = 0
    cursor: datetime | None = None
    cursor_lag_seconds: float | None = None
    invalid: int = 0  # listed events not of Stripe's shape: never stored
    start_refused: int = 0
    start_unavailable: int = 0
    dead: int = 0
    skipped_ids: list[str] = Field(default_factory=list)  # bounded


class ObjectsReconcileInput(BaseModel):
    max_subscriptions: int = Field(default=10_000, gt=0)


class ObjectsReconcileResult(BaseModel):
    checked: int = 0
    mismatches: int = 0
    mismatched_subscriptions: list[str] = Field(default_factory=list)
    failed: int = 0  # subscriptions whose retrieve or apply failed; the next run tries again
    failed_subscriptions: list[str] = Field(default_factory=list)  # bounded


class GraceInput(BaseModel):
    batch_size: int | None = None  # None: STRIPE_GRACE_BATCH_SIZE
    max_batches: int = Field(default=100, gt=0)


class GraceBatchInput(BaseModel):
    batch_size: int | None = None  # None: STRIPE_GRACE_BATCH_SIZE
    # The workflow's clock (the schedule's firing time): deterministic, and lets a
    # time-skipping test move days ahead without touching the database clock.
    as_of: datetime
    after_subscription_id: str | None = None  # keyset over subscriptions.id


class GraceBatchResult(BaseModel):
    examined: int = 0
    demoted: int = 0
    cleared: int = 0
    applied_from_stripe: int = 0
    errors: int = 0
    last_subscription_id: str | None = None
    has_more: bool = False


class GraceResult(BaseModel):
    examined: int = 0
    demoted: int = 0
    cleared: int = 0
    applied_from_stripe: int = 0
    errors: int = 0


class CleanupInput(BaseModel):
    retention_days: int | None = None  # None: STRIPE_WEBHOOK_RETENTION_DAYS
    batch_size: int = Field(default=1000, gt=0)
    max_batches: int = Field(default=1000, gt=0)


class CleanupBatchInput(BaseModel):
    retention_days: int | None = None
    batch_size: int = 1000


class CleanupBatchResult(BaseModel):
    webhook_events_deleted: int = 0
    idempotency_deleted: int = 0


class CleanupResult(BaseModel):
    webhook_events_deleted: int = 0
    idempotency_deleted: int = 0
    batches: int = 0
