"""The file-backed Temporal dev server SIGKILLed mid-burst and started again on the same file."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.results import CaseResult, record
from tests.faults.traffic import Answers, WebhookSender, http_client, shuffled
from tests.faults.verdict import converge, handled_ids, open_events
from tests.support import eventually

pytestmark = pytest.mark.slow
DOWN_SECONDS = 8.0


async def test_temporal_killed_mid_burst_and_restarted(stacks, shop, engine):
    stack = await stacks(temporal_file=True)
    await stack.start_api()
    worker = await stack.start_worker()
    tenants = await shop.tenants(25)
    for tenant in tenants:
        await shop.buy(tenant)
        await shop.change_plan(tenant, "business")
    events = await shop.events()
    handled = handled_ids(events)
    answers = Answers()
    async with http_client() as http:
        sender = WebhookSender(http, stack.api_url, answers)
        deliveries = shuffled(events, seed=13, most=2)
        # Paced over ~12 s, so deliveries keep arriving while the server is down.
        burst = asyncio.create_task(sender.burst(deliveries, lanes=16, per_second=25))
        # Mid-burst: some events already applied, most still arriving or queued.
        await eventually(lambda: open_events(engine, handled), lambda n: n <= len(handled) - 15,
                         60)
        in_flight = await open_events(engine, handled)
        stack.temporal.kill()
        killed = time.monotonic()
        await asyncio.sleep(DOWN_SECONDS)
        await stack.temporal.start()
        restarted = time.monotonic()
        await burst
        seconds, verdict = await converge(engine, shop, tenants, timeout=150, since=restarted)

    during = answers.statuses("webhook", killed, restarted)
    result = record(CaseResult(
        case="Temporal server killed mid-burst",
        injected=f"file-backed dev server SIGKILLed, down {restarted - killed:.1f} s, "
                 f"restarted on its file; {len(deliveries)} deliveries of {len(events)} events at "
                 f"25/s, 16 in flight",
        in_flight=in_flight,
        converge_s=seconds,
        lost=verdict.lost,
        applied_twice=len(verdict.twice),
        details=f"{verdict.describe()}; acks while down {dict(during)}; {answers.summary()}",
    ))
    assert seconds is not None, f"not whole again: {verdict.describe()}\n{stack.logs()}"
    assert verdict.twice == {}, result.details
    assert worker.alive, "the worker must ride out a Temporal restart on its own"
    assert not answers.undefined({"webhook": {200, 503}}), answers.summary()
