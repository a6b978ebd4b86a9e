"""The pricing table: the self-serve plan variants that checkout can sell right now."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.catalog import PlanVariant, PlanVariantPublic
from models.vocabulary import SELF_SERVE_PLANS, Interval

# Plans cheapest first, monthly before yearly, whatever order the sync wrote them in.
_PLAN_ORDER: dict[str, int] = {plan: index for index, plan in enumerate(SELF_SERVE_PLANS)}
_INTERVAL_ORDER: dict[str, int] = {interval: index for index, interval in enumerate(Interval)}


async def sellable_variants(session: AsyncSession) -> list[PlanVariantPublic]:
    """Variants of a self-serve plan with a synced Stripe price and amount; the checkout
    route answers PLAN_NOT_AVAILABLE for any other."""
    rows = (
        await session.exec(
            select(PlanVariant)
            .where(col(PlanVariant.plan_slug).in_(SELF_SERVE_PLANS))
            .where(col(PlanVariant.interval).in_(tuple(Interval)))
            .where(col(PlanVariant.stripe_price_id).is_not(None))
            .where(col(PlanVariant.unit_amount).is_not(None))
        )
    ).all()
    ordered = sorted(
        rows,
        key=lambda r: (_PLAN_ORDER[r.plan_slug], _INTERVAL_ORDER[r.interval], r.currency),
    )
    return [
        PlanVariantPublic(
            plan=row.plan_slug,
            interval=row.interval,
            currency=row.currency,
            amount=row.unit_amount or 0,
            grants=dict(row.grants or {}),
        )
        for row in ordered
    ]
