"""The support trace of a workspace's purchases: one timeline from checkout to final plan."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class TraceStep(BaseModel):
    at: datetime
    # checkout_key | checkout_session | checkout_reconcile | checkout_confirmed |
    # checkout_expired | customer_mapped | customer_<audit type> | stripe_event | workflow |
    # subscription | plan
    kind: str
    summary: str
    since_previous_seconds: float | None = None
    since_checkout_seconds: float | None = None
    link: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class WorkspaceTrace(BaseModel):
    workspace_id: str
    workspace_name: str
    plan: str
    generated_at: datetime
    # Temporal UI: every workflow of this workspace (the one-query view of DESIGN.md).
    workflows_link: str
    # Set when Temporal visibility could not be read; the DB steps are still complete.
    temporal_error: str | None = None
    steps: list[TraceStep]
