"""Whole again? Plans equal Stripe's truth, every ledger row final, every event applied once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.constants import HANDLED_EVENT_TYPES
from ops.postgres import libpq_url
from tests.faults.shop import Shop, Tenant

FINAL = ("completed", "ignored")

# Test-owned, in the case's own database: one row per committed application of an event.
# The service marks a row completed in the same transaction as the billing change, with a
# fresh processed_at, so each such update is one effect committed; a second one for the
# same event is an event applied twice, whatever Temporal or the ledger's status says.
APPLICATION_COUNTER = """
CREATE TABLE fault_applications (
    event_id text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION fault_count_application() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fault_applications (event_id) VALUES (NEW.id);
    RETURN NEW;
END $$;
CREATE TRIGGER fault_count_application AFTER UPDATE ON stripe_webhook_events
FOR EACH ROW WHEN (NEW.status = 'completed' AND NEW.processed_at IS DISTINCT FROM OLD.processed_at)
EXECUTE FUNCTION fault_count_application();
"""


def install_application_counter(database_url: str) -> None:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute(APPLICATION_COUNTER)


@dataclass
class Verdict:
    handled: int = 0
    missing: list[str] = field(default_factory=list)  # in Stripe, never in the ledger
    unfinished: dict[str, str] = field(default_factory=dict)  # ledger id → non-final status
    twice: dict[str, int] = field(default_factory=dict)  # event id → applications (> 1)
    wrong_plans: dict[str, tuple[str, str]] = field(default_factory=dict)  # ws → (ours, Stripe)
    applied: int = 0
    max_attempts: int = 0

    @property
    def converged(self) -> bool:
        return not (self.missing or self.unfinished or self.wrong_plans)

    @property
    def lost(self) -> int:
        """Handled events of Stripe that did not end final here."""
        return len(self.missing) + len(self.unfinished)

    def describe(self) -> str:
        return (
            f"handled={self.handled} applied={self.applied} missing={self.missing[:5]} "
            f"unfinished={dict(list(self.unfinished.items())[:5])} twice={self.twice} "
            f"wrong_plans={dict(list(self.wrong_plans.items())[:5])} "
            f"max_attempts={self.max_attempts}"
        )


async def judge(engine: AsyncEngine, shop: Shop, tenants: list[Tenant]) -> Verdict:
    handled = [e["id"] for e in await shop.events() if e["type"] in HANDLED_EVENT_TYPES]
    truth = await shop.truth(tenants)
    async with engine.connect() as db:
        rows = (await db.execute(text(
            "SELECT id, status, attempts FROM stripe_webhook_events"))).all()
        applications = (await db.execute(text(
            "SELECT event_id, count(*) AS n FROM fault_applications GROUP BY event_id"))).all()
        plans = (await db.execute(
            text("SELECT CAST(id AS text) AS id, plan FROM workspaces WHERE CAST(id AS text) "
                 "= ANY(:ids)"), {"ids": list(truth)})).all()
    status = {r.id: r.status for r in rows}
    verdict = Verdict(handled=len(handled))
    verdict.missing = [i for i in handled if i not in status]
    verdict.unfinished = {i: s for i, s in status.items() if s not in FINAL}
    verdict.twice = {r.event_id: int(r.n) for r in applications if r.n > 1}
    verdict.applied = len(applications)
    verdict.max_attempts = max((int(r.attempts) for r in rows), default=0)
    ours = {r.id: r.plan for r in plans}
    verdict.wrong_plans = {
        w: (ours.get(w, "?"), plan) for w, plan in truth.items() if ours.get(w) != plan
    }
    return verdict


async def converge(
    engine: AsyncEngine,
    shop: Shop,
    tenants: list[Tenant],
    timeout: float,
    *,
    since: float | None = None,
    nudge: Callable[[], Awaitable[None]] | None = None,
) -> tuple[float | None, Verdict]:
    """Seconds from `since` (default: now) until the system is whole, or None at `timeout`;
    `nudge` runs between looks (e.g. the replay schedule's trigger)."""
    start = since if since is not None else time.monotonic()
    deadline = time.monotonic() + timeout
    while True:
        verdict = await judge(engine, shop, tenants)
        if verdict.converged:
            return round(time.monotonic() - start, 1), verdict
        if time.monotonic() > deadline:
            return None, verdict
        if nudge is not None:
            await nudge()
        await asyncio.sleep(0.5)


async def open_events(engine: AsyncEngine, event_ids: list[str]) -> int:
    """How many of `event_ids` are not final in the ledger yet (stored or not): in flight."""
    async with engine.connect() as db:
        done = await db.execute(
            text("SELECT count(*) FROM stripe_webhook_events "
                 "WHERE id = ANY(:ids) AND status IN ('completed', 'ignored')"),
            {"ids": event_ids},
        )
        return len(event_ids) - int(done.scalar_one())


def handled_ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in events if e["type"] in HANDLED_EVENT_TYPES]
