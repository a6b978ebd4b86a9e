"""Slow Stripe, busy tenant: 30 portal requests of one owner while Stripe's portal is slow."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from tests.faults.results import CaseResult, record
from tests.faults.traffic import (
    Answers,
    ApiCalls,
    UndefinedAnswers,
    WebhookSender,
    http_client,
    poll_until,
)
from tests.faults.verdict import converge, handled_ids, open_events

pytestmark = pytest.mark.slow
PORTAL_REQUESTS = 30
PORTAL_DELAY = 5.0
ACK_LIMIT = 1.0
ALLOWED = {"portal": {200, 429, 502, 503}, "webhook": {200}, "readyz": {200}}


async def held_connections(engine) -> int:
    """Connections of the case's database idle inside an open transaction (held, unused)."""
    async with engine.connect() as db:
        found = await db.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle in transaction'"))
        return int(found.scalar_one())


async def sample_max(probe, stop: asyncio.Event) -> int:
    most = 0
    while not stop.is_set():
        most = max(most, await probe())
        await asyncio.sleep(0.5)
    return most


async def test_busy_tenant_does_not_starve_others(stacks, shop, engine):
    stack = await stacks()
    await stack.start_api()
    await stack.start_worker()
    busy = (await shop.tenants(1))[0]
    await shop.buy(busy)
    others = await shop.tenants(10)
    seen = {e["id"] for e in await shop.events()}
    for tenant in others:
        await shop.buy(tenant)
        await shop.change_plan(tenant, "business")
    # Only the other workspaces' events are delivered while the portal is slow; the busy
    # workspace's own purchase is delivered before.
    first = [e for e in await shop.events() if e["id"] in seen]
    later = [e for e in await shop.events() if e["id"] not in seen]
    answers = Answers()
    async with http_client() as http:
        sender = WebhookSender(http, stack.api_url, answers)
        await sender.burst(first, lanes=4)
        api = ApiCalls(http, stack.api_url, answers)
        await shop.api_faults([{"mode": "slow", "path": "/v1/billing_portal/sessions",
                                "method": "POST", "count": 1_000, "delay": PORTAL_DELAY}])
        stop = asyncio.Event()
        readiness = asyncio.create_task(poll_until(stop, 0.5, api.readyz))
        holding = asyncio.create_task(sample_max(lambda: held_connections(engine), stop))
        began = time.monotonic()
        portals = asyncio.gather(*(api.portal(busy) for _ in range(PORTAL_REQUESTS)))
        await asyncio.sleep(0.5)  # the portal requests are in, and waiting on Stripe
        in_flight = await open_events(engine, handled_ids(later))
        await sender.burst(later, lanes=4, per_second=10)
        await portals
        ended = time.monotonic()
        stop.set()
        await readiness
        held = await holding
        await shop.api_faults([])
        seconds, verdict = await converge(engine, shop, [busy, *others], timeout=120,
                                          since=ended)

    late_acks = [a for a in answers.of("webhook", began) if a.seconds > ACK_LIMIT]
    bad = answers.undefined(ALLOWED, began) + late_acks
    outcome = "pass" if not bad else "; ".join(sorted(
        {f"{a.kind} {a.status}" + (f" after {a.seconds:.1f} s" if a.seconds > ACK_LIMIT
                                   else "") for a in bad})[:6])
    result = record(CaseResult(
        case="slow Stripe, busy tenant",
        injected=f"{PORTAL_REQUESTS} concurrent portal requests of one owner, Stripe's portal "
                 f"endpoint {PORTAL_DELAY:.0f} s slow; {len(later)} other events at 10/s",
        in_flight=in_flight,
        converge_s=seconds,
        lost=verdict.lost,
        applied_twice=len(verdict.twice),
        outcome=outcome,
        details=f"{verdict.describe()}; during: {answers.summary(began, ended)}; at most "
                f"{held} DB connections idle in transaction",
    ))
    assert seconds is not None, f"not whole again: {verdict.describe()}\n{stack.logs()}"
    assert verdict.twice == {}, result.details
    # Late acks, a 503 from /readyz, an undefined or late portal answer: all of `bad`.
    if bad:
        raise UndefinedAnswers(result.details)
