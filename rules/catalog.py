"""Catalog sync: Stripe's active recurring self-serve prices become `plan_variants` rows.

Acceptance (seed 002 §4, seed 001). A price is a candidate when it is active, recurring every
1 month or 1 year, in `usd`, on an active product, and its metadata (price first, product as
fallback) says `plan_slug` (alias `billing_plan_code`) in pro/business, `interval` in
monthly/yearly matching the recurring interval, and `self_serve` truthy (true/1/yes/on).
A lookup key, when present, must read `formsandbox:{STRIPE_CATALOG_ENV}:{plan}:{interval}:usd`
and agree with that metadata; another env, another shape or a disagreement skips the price.
`grants` (JSON object `grant_program_code → value`) is merged from product then price
metadata, the price winning per code; `gating.bundle` is kept (price first, then product).
A price with malformed metadata is skipped with a logged reason counted in the summary; it
never aborts the sync.

Winner per `{plan_slug, interval, currency}` (deterministic): the price holding the exact
lookup key first, then the newest `created`, then the greatest price id.

The sync only upserts `plan_variants` (a variant without any candidate keeps its row); it
never touches customer mappings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.catalog import PlanVariant
from models.catalog_payloads import CatalogSyncSummary
from models.vocabulary import SELF_SERVE_PLANS, Interval

LOOKUP_KEY_PREFIX = "formsandbox"
CURRENCY = "usd"
TRUTHY = frozenset({"true", "1", "yes", "on"})
RECURRING_TO_INTERVAL = {"month": "monthly", "year": "yearly"}
PAGE_SIZE = 100
# Serializes concurrent syncs (schedule, manual, checkout's forced one) inside PostgreSQL.
SYNC_LOCK_SQL = text("SELECT pg_advisory_xact_lock(hashtext('billing-catalog-sync'))")


class SkipPrice(Exception):
    """This price is not a self-serve candidate; `reason` is counted in the summary."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Candidate:
    plan_slug: str
    interval: str
    currency: str
    price_id: str
    product_id: str
    unit_amount: int | None
    lookup_key: str | None
    exact_lookup_key: bool
    created: int
    grants: dict[str, Any] = field(default_factory=dict)
    gating_bundle: str | None = None

    @property
    def variant_key(self) -> tuple[str, str, str]:
        return (self.plan_slug, self.interval, self.currency)

    @property
    def rank(self) -> tuple[bool, int, str]:
        return (self.exact_lookup_key, self.created, self.price_id)


def _grants(metadata: dict[str, Any]) -> dict[str, Any]:
    raw = metadata.get("grants")
    if raw in (None, ""):
        return {}
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError):
        raise SkipPrice("malformed_grants") from None
    if not isinstance(parsed, dict):
        raise SkipPrice("malformed_grants")
    return parsed


def _plan(metadata: dict[str, Any]) -> str | None:
    slug, alias = metadata.get("plan_slug"), metadata.get("billing_plan_code")
    if slug and alias and slug != alias:
        raise SkipPrice("conflicting_plan_metadata")
    return slug or alias or None


def _lookup_key_exact(lookup_key: str | None, env: str, plan: str, interval: str) -> bool:
    """True for the exact contract key, False when absent; any other key skips the price."""
    if not lookup_key:
        return False
    parts = lookup_key.split(":")
    if len(parts) != 5 or parts[0] != LOOKUP_KEY_PREFIX:
        raise SkipPrice("foreign_lookup_key")
    if parts[1] != env:
        raise SkipPrice("wrong_env")
    if parts[2:] != [plan, interval, CURRENCY]:
        raise SkipPrice("lookup_key_mismatch")
    return True


def parse_price(price: dict[str, Any], env: str) -> Candidate:
    """The candidate this price is, or SkipPrice with why not."""
    product = price.get("product")
    if not isinstance(product, dict):
        raise SkipPrice("product_not_expanded")
    lookup_key = price.get("lookup_key")
    if lookup_key and lookup_key.startswith(f"{LOOKUP_KEY_PREFIX}:"):
        parts = lookup_key.split(":")
        if len(parts) > 1 and parts[1] != env:
            raise SkipPrice("wrong_env")
    price_meta: dict[str, Any] = price.get("metadata") or {}
    product_meta: dict[str, Any] = product.get("metadata") or {}
    plan = _plan(price_meta) or _plan(product_meta)
    if not plan:
        raise SkipPrice("no_plan_metadata")
    if plan not in SELF_SERVE_PLANS:
        raise SkipPrice("unknown_plan")
    self_serve = price_meta.get("self_serve") or product_meta.get("self_serve") or ""
    if str(self_serve).strip().lower() not in TRUTHY:
        raise SkipPrice("not_self_serve")
    interval = price_meta.get("interval") or product_meta.get("interval")
    if interval not in tuple(Interval):
        raise SkipPrice("unknown_interval")
    recurring = price.get("recurring") or {}
    if (
        RECURRING_TO_INTERVAL.get(recurring.get("interval", "")) != interval
        or recurring.get("interval_count", 1) != 1
    ):
        raise SkipPrice("interval_mismatch")
    currency = str(price.get("currency", "")).lower()
    if currency != CURRENCY:
        raise SkipPrice("unsupported_currency")
    exact = _lookup_key_exact(lookup_key, env, plan, interval)
    grants = {**_grants(product_meta), **_grants(price_meta)}
    if not product.get("active", True):
        raise SkipPrice("inactive_product")
    return Candidate(
        plan_slug=plan,
        interval=interval,
        currency=currency,
        price_id=price["id"],
        product_id=product["id"],
        unit_amount=price.get("unit_amount"),
        lookup_key=lookup_key or None,
        exact_lookup_key=exact,
        created=int(price.get("created") or 0),
        grants=grants,
        gating_bundle=price_meta.get("gating.bundle") or product_meta.get("gating.bundle"),
    )


def choose_winners(candidates: list[Candidate]) -> dict[tuple[str, str, str], Candidate]:
    winners: dict[tuple[str, str, str], Candidate] = {}
    for candidate in candidates:
        current = winners.get(candidate.variant_key)
        if current is None or candidate.rank > current.rank:
            winners[candidate.variant_key] = candidate
    return winners


def _apply(row: PlanVariant, winner: Candidate, now: datetime) -> bool:
    """Copy the winner onto the row; True when anything but `synced_at` changed."""
    values = {
        "stripe_price_id": winner.price_id,
        "stripe_product_id": winner.product_id,
        "unit_amount": winner.unit_amount,
        "lookup_key": winner.lookup_key,
        "grants": winner.grants,
        "gating_bundle": winner.gating_bundle,
    }
    changed = any(getattr(row, name) != value for name, value in values.items())
    for name, value in values.items():
        setattr(row, name, value)
    row.synced_at = now
    return changed



async def store_winners(
    session: AsyncSession,
    winners: dict[tuple[str, str, str], Candidate],
    summary: CatalogSyncSummary,
    now: datetime,
) -> None:
    """Upsert the winning variant of each plan and interval; count what changed."""
    await session.execute(SYNC_LOCK_SQL)
    rows = {
        (row.plan_slug, row.interval, row.currency): row
        for row in (await session.exec(select(PlanVariant))).all()
    }
    chosen = {winner.price_id: key for key, winner in winners.items()}
    # A price that moved to another variant is released first (stripe_price_id is unique).
    for key, row in rows.items():
        if row.stripe_price_id in chosen and chosen[row.stripe_price_id] != key:
            row.stripe_price_id = None
            session.add(row)
    await session.flush()
    for key, winner in sorted(winners.items()):
        existing = rows.get(key)
        row = existing or PlanVariant(plan_slug=key[0], interval=key[1], currency=key[2])
        changed = _apply(row, winner, now) or existing is None
        session.add(row)
        summary.updated += int(changed)
        summary.unchanged += int(not changed)
        summary.variants[":".join(key)] = winner.price_id
