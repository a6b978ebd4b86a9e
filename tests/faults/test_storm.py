"""A storm: 1,000 events of 50 workspaces, each delivered 1-3 times, shuffled, 16 in flight,
while the worker is restarted once."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.faults.results import CaseResult, record
from tests.faults.traffic import Answers, WebhookSender, http_client, shuffled
from tests.faults.verdict import converge, handled_ids, open_events
from tests.support import eventually

pytestmark = pytest.mark.slow


async def lifecycle(shop, tenant, variant: int) -> None:
    """20 events, 10 handled: buy, renew, upgrade, renew, then one of three endings."""
    await shop.buy(tenant, "pro")  # 7
    await shop.renew(tenant)  # 5
    await shop.change_plan(tenant, "business")  # 1
    await shop.renew(tenant)  # 5
    if variant == 0:  # stays on business
        await shop.cancel_at_period_end(tenant, True)
        await shop.cancel_at_period_end(tenant, False)
    elif variant == 1:  # cancelled now: back to free
        await shop.cancel_at_period_end(tenant, True)
        await shop.cancel_now(tenant)
    else:  # downgraded, ends at period end: pro until then
        await shop.change_plan(tenant, "pro")
        await shop.cancel_at_period_end(tenant, True)


async def test_storm_with_worker_restart(stacks, shop, engine):
    stack = await stacks()
    await stack.start_api()
    worker = await stack.start_worker()
    tenants = await shop.tenants(50)
    await asyncio.gather(*(lifecycle(shop, t, i % 3) for i, t in enumerate(tenants)))
    events = await shop.events()
    assert len(events) == 1000
    handled = handled_ids(events)
    deliveries = shuffled(events, seed=23, most=3)
    answers = Answers()
    async with http_client() as http:
        sender = WebhookSender(http, stack.api_url, answers)
        started = time.monotonic()
        burst = asyncio.create_task(sender.burst(deliveries, lanes=16))
        # Restart once a third of the handled events are applied: a deploy mid-storm.
        await eventually(lambda: open_events(engine, handled),
                         lambda n: n <= len(handled) * 2 // 3, 120)
        in_flight = await open_events(engine, handled)
        worker.kill(signal.SIGTERM)  # graceful: in-flight tasks finish or time out
        old = worker.proc
        restarted_at = time.monotonic()
        await stack.restart_worker(worker)
        acks = await burst
        seconds, verdict = await converge(engine, shop, tenants, timeout=180,
                                          since=restarted_at)
        total = time.monotonic() - started
    assert old is not None and old.wait(timeout=30) == 0

    result = record(CaseResult(
        case="storm + worker restart",
        injected=f"{len(deliveries)} deliveries of 1,000 events (50 workspaces, 1-3 each, "
                 f"shuffled, 16 in flight); worker SIGTERMed and replaced mid-storm",
        in_flight=in_flight,
        converge_s=seconds,
        lost=verdict.lost,
        applied_twice=len(verdict.twice),
        details=f"{verdict.describe()}; acks {acks}; {answers.summary()}; "
                f"all applied {total:.1f} s after the first delivery",
    ))
    assert seconds is not None, f"not whole again: {verdict.describe()}\n{stack.logs()}"
    assert verdict.twice == {}, result.details
    assert set(answers.statuses("webhook")) == {200}, answers.summary()
