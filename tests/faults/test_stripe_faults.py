"""Stripe answering 500, then 429, then slowly for 24 s (scaled from a minute) during a burst."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

import pytest

from tests.faults.results import CaseResult, record
from tests.faults.traffic import (
    REQUEST_DEADLINE,
    Answers,
    ApiCalls,
    WebhookSender,
    http_client,
    poll_until,
    shuffled,
)
from tests.faults.verdict import converge, handled_ids, open_events

pytestmark = pytest.mark.slow
# Issue #13 asks for a minute; 3 × 8 s keeps the suite inside its time budget while every
# event still sees several failed attempts of each kind (its retries start 1 s apart).
PHASE_SECONDS = 8.0
PHASES = [
    {"mode": "500", "path": "/v1/*", "count": 1_000_000},
    {"mode": "429", "path": "/v1/*", "count": 1_000_000},
    {"mode": "slow", "path": "/v1/*", "count": 1_000_000, "delay": 2.5},
]
# Webhooks never wait for Stripe; checkout may report Stripe's failure (502) or a busy
# system (503), never a 500.
ALLOWED = {"webhook": {200}, "checkout": {200, 502, 503}, "status": {200}}


async def test_stripe_500_429_slow_then_converges(stacks, shop, engine):
    stack = await stacks()
    await stack.start_api()
    await stack.start_worker()
    buyers = await shop.tenants(20)
    for tenant in buyers:
        await shop.buy(tenant)
    shoppers = await shop.tenants(6)
    events = await shop.events()
    handled = handled_ids(events)
    deliveries = shuffled(events, seed=19, most=2)
    answers = Answers()
    async with http_client() as http:
        sender = WebhookSender(http, stack.api_url, answers)
        api = ApiCalls(http, stack.api_url, answers)
        keys = {t.workspace_id: str(uuid.uuid4()) for t in shoppers}
        next_shopper, next_buyer = itertools.cycle(shoppers), itertools.cycle(buyers)

        async def checkout() -> None:
            tenant = next(next_shopper)
            answer = await api.checkout(tenant, keys[tenant.workspace_id])
            if answer.status == 200:
                keys[tenant.workspace_id] = str(uuid.uuid4())

        stop = asyncio.Event()
        per_second = len(deliveries) / 26
        background = [
            asyncio.create_task(sender.burst(deliveries, lanes=16, per_second=per_second)),
            asyncio.create_task(poll_until(stop, 0.5, lambda: api.status(next(next_buyer)))),
            asyncio.create_task(poll_until(stop, 1.0, checkout)),
        ]
        await asyncio.sleep(2)
        in_flight = await open_events(engine, handled)
        began = time.monotonic()
        for phase in PHASES:
            await shop.api_faults([phase])
            await asyncio.sleep(PHASE_SECONDS)
        await shop.api_faults([])
        ended = time.monotonic()
        await asyncio.sleep(3)
        stop.set()
        await asyncio.gather(*background)
        seconds, verdict = await converge(engine, shop, buyers + shoppers, timeout=150,
                                          since=ended)
    fired = (await shop.state())["api_faults_fired"]

    bad = answers.undefined(ALLOWED)
    outcome = "pass" if not bad else "undefined answers: " + ", ".join(
        sorted({f"{a.kind} {a.status}" + (" late" if a.seconds > REQUEST_DEADLINE else "")
                for a in bad}))
    result = record(CaseResult(
        case="Stripe 500 / 429 / slow",
        injected=f"every Stripe call answered 500, then 429, then 2.5 s late, {PHASE_SECONDS:.0f}"
                 f" s each ({ended - began:.0f} s, scaled from 60 s); {fired} calls hit",
        in_flight=in_flight,
        converge_s=seconds,
        lost=verdict.lost,
        applied_twice=len(verdict.twice),
        outcome=outcome,
        details=f"{verdict.describe()}; during: {answers.summary(began, ended)}; "
                f"all: {answers.summary()}",
    ))
    assert seconds is not None, f"not whole again: {verdict.describe()}\n{stack.logs()}"
    assert verdict.twice == {}, result.details
    assert not bad, result.details
