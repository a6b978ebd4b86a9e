"""Input and summary of the catalog sync workflow and its activity (seed 002 §4)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CatalogSyncInput(BaseModel):
    # Who asked: "schedule", "manual" or "checkout" (a forced sync on price drift).
    reason: str = "schedule"


class CatalogSyncSummary(BaseModel):
    scanned: int = 0
    accepted: int = 0
    skipped: int = 0
    skip_reasons: dict[str, int] = Field(default_factory=dict)
    # Variants whose price, amount, product, lookup key, grants or bundle changed.
    updated: int = 0
    unchanged: int = 0
    variants: dict[str, str] = Field(default_factory=dict)  # "plan:interval:currency" → price
    # Workspaces entitled through a variant whose grants or gating bundle changed, each given
    # a new entitlements version (and a notice) after the sync, in paced batches.
    entitlements_updated: int = 0
