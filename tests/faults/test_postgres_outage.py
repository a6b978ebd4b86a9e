"""PostgreSQL unreachable 20 s behind the test's proxy while webhooks, checkouts and polls go on."""

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
    UndefinedAnswers,
    WebhookSender,
    http_client,
    poll_until,
    shuffled,
)
from tests.faults.verdict import converge, handled_ids, open_events

pytestmark = pytest.mark.slow
OUTAGE_SECONDS = 20.0
# During the outage a request may be refused (503, Stripe retries a webhook), never fail
# with a 500 or go unanswered past the deadline.
ALLOWED = {"webhook": {200, 503}, "checkout": {200, 503}, "status": {200, 503},
           "readyz": {200, 503}}


HOW = {"freeze": "proxy frozen (no bytes forwarded, sockets open)",
       "cut": "proxy cut (connections closed, new ones refused)"}
FROZEN = pytest.param("freeze", id="frozen")
CUT = pytest.param("cut", id="cut")


@pytest.mark.parametrize("mode", [FROZEN, CUT])
async def test_postgres_unreachable_answers_only_503s_and_converges(stacks, shop, engine, mode):
    stack = await stacks(db_proxy=True)
    await stack.start_api()
    await stack.start_worker()
    buyers = await shop.tenants(20)
    for tenant in buyers:
        await shop.buy(tenant)
    shoppers = await shop.tenants(6)
    events = await shop.events()
    handled = handled_ids(events)
    deliveries = shuffled(events, seed=17, most=2)
    answers = Answers()
    async with http_client() as http:
        sender = WebhookSender(http, stack.api_url, answers)
        api = ApiCalls(http, stack.api_url, answers)
        keys = {t.workspace_id: str(uuid.uuid4()) for t in shoppers}
        next_shopper, next_buyer = itertools.cycle(shoppers), itertools.cycle(buyers)

        async def checkout() -> None:
            tenant = next(next_shopper)
            answer = await api.checkout(tenant, keys[tenant.workspace_id])
            if answer.status == 200:  # done: the next attempt is a new checkout
                keys[tenant.workspace_id] = str(uuid.uuid4())

        stop = asyncio.Event()
        # Deliveries spread over ~35 s: before, during and after the outage.
        per_second = len(deliveries) / 35
        background = [
            asyncio.create_task(sender.burst(deliveries, lanes=16, per_second=per_second)),
            asyncio.create_task(poll_until(stop, 0.5, lambda: api.status(next(next_buyer)))),
            asyncio.create_task(poll_until(stop, 1.0, checkout)),
            asyncio.create_task(poll_until(stop, 1.0, api.readyz)),
        ]
        await asyncio.sleep(5)
        in_flight = await open_events(engine, handled)
        proxy = stack.db_proxy
        assert proxy is not None
        began = time.monotonic()
        if mode == "freeze":
            proxy.freeze()
        else:
            await proxy.cut()
        await asyncio.sleep(OUTAGE_SECONDS)
        await proxy.restore()
        restored = time.monotonic()
        await asyncio.sleep(5)
        stop.set()
        await asyncio.gather(*background)
        seconds, verdict = await converge(engine, shop, buyers + shoppers, timeout=120,
                                          since=restored)

    bad = answers.undefined(ALLOWED)
    outcome = "pass" if not bad else "undefined answers: " + ", ".join(
        sorted({f"{a.kind} {a.status}" + (" late" if a.seconds > REQUEST_DEADLINE else "")
                for a in bad}))
    result = record(CaseResult(
        case=f"PostgreSQL {'frozen' if mode == 'freeze' else 'cut'} 20 s",
        injected=f"{HOW[mode]} for {restored - began:.0f} s under webhooks, checkouts, polls",
        in_flight=in_flight,
        converge_s=seconds,
        lost=verdict.lost,
        applied_twice=len(verdict.twice),
        outcome=outcome,
        details=f"{verdict.describe()}; during outage: {answers.summary(began, restored)}; "
                f"all: {answers.summary()}",
    ))
    assert seconds is not None, f"not whole again: {verdict.describe()}\n{stack.logs()}"
    assert verdict.twice == {}, result.details
    if bad:
        raise UndefinedAnswers(result.details)

