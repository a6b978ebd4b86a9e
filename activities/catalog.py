"""Catalog sync activity: list Stripe's prices, let the catalog rules pick and store winners."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from stripe.params import PriceListParams
from temporalio import activity

from activities.deps import ActivityDeps
from activities.failures import reported
from core.db import transaction
from models.catalog_payloads import CatalogSyncInput, CatalogSyncSummary
from rules.catalog import (
    PAGE_SIZE,
    Candidate,
    SkipPrice,
    choose_winners,
    parse_price,
    store_winners,
)

logger = logging.getLogger(__name__)


class CatalogActivities:
    """Lists Stripe prices and upserts the winning variant of each plan and interval."""

    def __init__(self, deps: ActivityDeps) -> None:
        self._settings = deps.settings
        self._sessions = deps.sessions
        self._stripe = deps.gateway

    @activity.defn(name="catalog.sync")
    async def sync_catalog(self, data: CatalogSyncInput) -> CatalogSyncSummary:
        with reported():
            prices = await self._list_prices()
        summary = CatalogSyncSummary(scanned=len(prices))
        reasons: Counter[str] = Counter()
        candidates: list[Candidate] = []
        for price in prices:
            try:
                candidates.append(parse_price(price, self._settings.stripe_catalog_env))
            except SkipPrice as skip:
                reasons[skip.reason] += 1
                logger.info("catalog sync skips price %s: %s", price.get("id"), skip.reason)
        summary.accepted = len(candidates)
        summary.skipped = sum(reasons.values())
        summary.skip_reasons = dict(sorted(reasons.items()))
        async with transaction(self._sessions) as session:
            await store_winners(session, choose_winners(candidates), summary, datetime.now(UTC))
        logger.info(
            "catalog sync (%s): scanned=%d accepted=%d skipped=%d updated=%d",
            data.reason,
            summary.scanned,
            summary.accepted,
            summary.skipped,
            summary.updated,
        )
        return summary

    async def _list_prices(self) -> list[dict[str, Any]]:
        params: PriceListParams = {
            "active": True,
            "type": "recurring",
            "limit": PAGE_SIZE,
            "expand": ["data.product"],
        }
        prices: list[dict[str, Any]] = []
        heartbeat = not activity.info().is_local
        async for price in self._stripe.each(
            "prices.list", self._stripe.client.v1.prices.list_async(params)
        ):
            prices.append(price.to_dict())
            if heartbeat and len(prices) % PAGE_SIZE == 0:
                activity.heartbeat(price.id)
        return prices
