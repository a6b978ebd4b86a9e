"""Bodies of the development-only routes behind the demo page (absent in production)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DemoPublic(BaseModel):
    """What the demo page needs to start: the demo owner's token and where to look next."""

    demo_owner_token: str | None = Field(
        description="The token `billing dev` minted for the seeded demo owner, if it runs."
    )
    temporal_ui_url: str
    temporal_namespace: str
    stripe_emulator: bool = Field(description="Whether the emulator's controls are available.")
    checkout_pending_reconcile_seconds: int


class WorkspaceSummaryPublic(BaseModel):
    id: str
    name: str
    plan: str
    role: str


class WorkspacesPublic(BaseModel):
    workspaces: list[WorkspaceSummaryPublic]


class WebhookStatePublic(BaseModel):
    """The emulator's webhook delivery: paused or not, and what waits."""

    paused: bool
    backlog: int
    queued: int
    in_flight: int


class SettleRequest(BaseModel):
    succeeded: bool = Field(description="Whether the bank debit goes through.")
