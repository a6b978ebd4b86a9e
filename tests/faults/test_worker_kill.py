"""The worker SIGKILLed while events are mid-apply (Stripe slowed so the kill lands), restarted."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from tests.faults.results import CaseResult, record
from tests.faults.traffic import Answers, WebhookSender, http_client, shuffled
from tests.faults.verdict import converge
from tests.support import eventually

pytestmark = pytest.mark.slow


async def processing_rows(engine) -> int:
    async with engine.connect() as db:
        found = await db.execute(
            text("SELECT count(*) FROM stripe_webhook_events WHERE status = 'processing'"))
        return int(found.scalar_one())


async def test_worker_sigkilled_mid_apply_converges_after_restart(stacks, shop, engine):
    stack = await stacks()
    await stack.start_api()
    worker = await stack.start_worker()
    tenants = await shop.tenants(12)
    for tenant in tenants:
        await shop.buy(tenant)
    events = await shop.events()
    # Every apply re-reads its objects from Stripe: 3 s per read keeps each apply open long
    # enough for the kill to land inside it (claimed, not yet committed).
    await shop.api_faults([{"mode": "slow", "path": "/v1/*", "method": "GET",
                            "count": 10_000, "delay": 3.0}])
    answers = Answers()
    async with http_client() as http:
        sender = WebhookSender(http, stack.api_url, answers)
        await sender.burst(shuffled(events, seed=11, most=2), lanes=8)
        mid_apply = await eventually(lambda: processing_rows(engine), lambda n: n >= 10, 30)
        worker.kill()  # SIGKILL: no graceful shutdown, local activities die mid-call
        killed = time.monotonic()
        await shop.api_faults([])
        await stack.restart_worker(worker)
        restarted = time.monotonic()
        seconds, verdict = await converge(engine, shop, tenants, timeout=120, since=restarted)

    result = record(CaseResult(
        case="worker SIGKILL mid-apply",
        injected=f"Stripe GETs slowed 3 s; worker SIGKILLed with {mid_apply} events mid-apply, "
                 f"restarted after {restarted - killed:.1f} s",
        in_flight=mid_apply,
        converge_s=seconds,
        lost=verdict.lost,
        applied_twice=len(verdict.twice),
        details=f"{verdict.describe()}; answers {answers.summary()}",
    ))
    assert seconds is not None, f"not whole again: {verdict.describe()}\n{stack.logs()}"
    assert verdict.twice == {}, result.details
    assert answers.statuses("webhook")[200] >= len(events)
