"""`GET /api/v1/stripe/plans`: the public pricing table, from `plan_variants`, cached briefly."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response

from api.db import run_db
from models.catalog import PlansPublic
from rules.pricing import sellable_variants

router = APIRouter(prefix="/api/v1/stripe", tags=["catalog"])

# The catalog changes on a sync (every 15 minutes by default); a minute of staleness keeps a
# busy pricing page off the database and costs a buyer nothing: checkout re-reads the price.
CACHE_SECONDS = 60


@dataclass(frozen=True)
class _Cached:
    answer: PlansPublic
    expires: float


@router.get(
    "/plans",
    response_model=PlansPublic,
    summary="The sellable plan variants (no authentication), for a pricing page",
)
async def list_plans(request: Request, response: Response) -> PlansPublic:
    now = time.monotonic()
    cached: _Cached | None = getattr(request.app.state, "plans_cache", None)
    if cached is None or cached.expires <= now:
        answer = PlansPublic(plans=await run_db(request, sellable_variants))
        cached = _Cached(answer, now + CACHE_SECONDS)
        # An empty catalog (no sync yet) is not kept: the first sync shows up at once.
        request.app.state.plans_cache = cached if answer.plans else None
    response.headers["Cache-Control"] = (
        f"public, max-age={CACHE_SECONDS}" if cached.answer.plans else "no-store"
    )
    return cached.answer
