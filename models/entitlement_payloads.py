"""Inputs and results of the entitlement notice workflows and the catalog re-derive activity."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

ACTIVITY_DELIVER_NOTICE = "entitlements.deliver_newest"
ACTIVITY_SWEEP_NOTICES = "entitlements.sweep_notices"
ACTIVITY_REDERIVE = "entitlements.rederive_batch"
NOTICE_WORKFLOW = "EntitlementNoticesWorkflow"
NOTICE_SWEEP_WORKFLOW = "EntitlementNoticeSweepWorkflow"
# The drainer's one signal: a newer version (or an overdue one) waits.
WAKE_SIGNAL = "wake"


class NoticeDrainInput(BaseModel):
    workspace_id: str
    # One delivery's HTTP budget (APP_WEBHOOK_TIMEOUT_SECONDS), so the workflow can bound the
    # activity without reading settings.
    attempt_timeout_seconds: float = 10.0
    # After the last delivery, a new version within this time reuses the running drainer.
    linger_seconds: float = 30.0


class NoticeDrainResult(BaseModel):
    delivered: int = 0
    failed: int = 0
    attempts: int = 0


class DeliverInput(BaseModel):
    workspace_id: str


class DeliverOutcome(StrEnum):
    DELIVERED = "delivered"  # the receiver answered 2xx
    RETRY = "retry"  # the receiver failed; `retry_in_seconds` of backoff
    NOT_DUE = "not_due"  # the newest is backing off; `retry_in_seconds` until it is due
    BUSY = "busy"  # another attempt of this workspace holds the lease
    FAILED = "failed"  # the retry window ran out: marked failed and alerted
    IDLE = "idle"  # nothing pending
    DISABLED = "disabled"  # APP_WEBHOOK_URL is not set


class DeliverResult(BaseModel):
    outcome: DeliverOutcome
    notice_id: str | None = None
    version: int | None = None
    retry_in_seconds: float = 0.0
    error: str | None = None


class SweepInput(BaseModel):
    batch_size: int | None = None


class SweepResult(BaseModel):
    woken: int = 0


class RederiveInput(BaseModel):
    after_workspace_id: str | None = None


class RederiveResult(BaseModel):
    examined: int = 0
    versions: int = 0  # workspaces that got a new version
    has_more: bool = False
    last_workspace_id: str | None = None
    # ENTITLEMENT_REDERIVE_PAUSE_SECONDS: the workflow waits this long between batches.
    pause_seconds: float = 0.0
