"""The plan behind a Stripe price: catalog sync's `plan_variants`, else the price's metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from rules.errors import plan_not_resolved

STRIPE_INTERVALS = {"month": "monthly", "year": "yearly"}
_VARIANT = text("SELECT plan_slug, interval, grants FROM plan_variants WHERE stripe_price_id = :p")
# `session.info` key: the prices this transaction already looked up.
_SEEN = "plan_variants_seen"


@dataclass(frozen=True)
class PlanRef:
    plan_slug: str
    interval: str | None
    grants: dict[str, Any] = field(default_factory=dict)


def stripe_price(item: dict[str, Any]) -> dict[str, Any]:
    price = item.get("price")
    return price if isinstance(price, dict) else {"id": price}


def _metadata_grants(metadata: dict[str, Any]) -> dict[str, Any]:
    raw = metadata.get("grants")
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {}


async def resolve_plan(session: AsyncSession, price: dict[str, Any]) -> PlanRef:
    """The plan behind a Stripe price: `plan_variants` (catalog sync) first, then the price's
    own metadata (`plan_slug` or `billing_plan_code`; interval from `recurring.interval`).
    A price is looked up once per transaction: the settlement and the apply ask alike."""
    seen: dict[Any, PlanRef | None] = session.info.setdefault(_SEEN, {})
    price_id = price.get("id")
    if price_id not in seen:
        row = (await session.execute(_VARIANT, {"p": price_id})).first()
        seen[price_id] = (
            None if row is None else PlanRef(row.plan_slug, row.interval, dict(row.grants or {}))
        )
    known = seen[price_id]
    if known is not None:
        return known
    metadata = price.get("metadata") or {}
    slug = metadata.get("plan_slug") or metadata.get("billing_plan_code")
    if not slug:
        raise plan_not_resolved(
            f"price {price.get('id')} maps to no plan (no plan_variants row, no plan metadata)"
        )
    recurring = price.get("recurring") or {}
    interval = STRIPE_INTERVALS.get(recurring.get("interval", "")) or metadata.get("interval")
    return PlanRef(slug, interval, _metadata_grants(metadata))
