"""The API SIGKILLed between storing events and starting their workflows; replay finishes them."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from tests.faults.results import CaseResult, record
from tests.faults.traffic import Answers, WebhookSender, http_client
from tests.faults.verdict import converge, handled_ids
from tests.support import eventually

pytestmark = pytest.mark.slow


async def ledger_statuses(engine, ids: list[str]) -> dict[str, str]:
    async with engine.connect() as db:
        rows = await db.execute(
            text("SELECT id, status FROM stripe_webhook_events WHERE id = ANY(:ids)"),
            {"ids": ids},
        )
        return {r.id: r.status for r in rows}


async def test_api_killed_after_storing_events_replay_sweep_finishes_them(stacks, shop, engine):
    stack = await stacks(temporal_proxy=True)
    await stack.start_api()
    await stack.start_worker()
    tenants = await shop.tenants(10)
    for tenant in tenants:
        await shop.buy(tenant)
    events = await shop.events()
    handled = handled_ids(events)
    proxy = stack.temporal_proxy
    assert proxy is not None and stack.api is not None
    # The API (only) can no longer reach Temporal: each event is stored, its start hangs.
    proxy.freeze()
    answers = Answers()
    async with http_client() as http:
        # Stripe delivers each event once and does not retry in time: only our own
        # machinery may finish these events.
        sender = WebhookSender(http, stack.api_url, answers, retry=False)
        burst = asyncio.create_task(
            sender.burst([e for e in events if e["id"] in handled], lanes=len(handled)))
        await eventually(lambda: ledger_statuses(engine, handled),
                         lambda found: len(found) == len(handled), 30)
        stack.api.kill()
        killed = time.monotonic()
        await burst
    # The killed process's half-sent start requests die with its connections; a frozen
    # proxy would otherwise deliver them late, as if the API had not been killed.
    await proxy.cut()
    await proxy.restore()
    await stack.start_api()
    await asyncio.sleep(2)
    stranded = sum(1 for s in (await ledger_statuses(engine, handled)).values()
                   if s == "pending")
    # No redelivery and no replay run: the worker's dispatcher (which reaches Temporal
    # directly) must start what the killed API stored but never started.
    seconds, verdict = await converge(engine, shop, tenants, timeout=120, since=killed)
    result = record(CaseResult(
        case="API SIGKILL between store and start",
        injected=f"API's Temporal link frozen, {len(handled)} events stored, API SIGKILLed, "
                 "restarted; no redelivery, no replay run: the worker's dispatcher starts them",
        in_flight=stranded,
        converge_s=seconds,
        lost=verdict.lost,
        applied_twice=len(verdict.twice),
        details=f"{verdict.describe()}; answers {answers.summary()}",
    ))
    assert seconds is not None, f"not whole again: {verdict.describe()}\n{stack.logs()}"
    assert verdict.twice == {}, result.details
