"""Two worker processes together stay within the configured Stripe rate (the emulator counts)."""

from __future__ import annotations

import time

import pytest

from tests.faults.results import CaseResult, record
from tests.faults.traffic import Answers, WebhookSender, http_client, shuffled
from tests.faults.verdict import converge, handled_ids

pytestmark = pytest.mark.slow
RATE = 5.0  # STRIPE_MAX_REQUESTS_PER_SECOND
WINDOW = 5.0
# A bucket may start full: one burst of RATE calls on top of RATE per second.
ALLOWED_IN_WINDOW = RATE * WINDOW + RATE


class RateExceeded(AssertionError):
    """The Stripe calls of the cluster went past the configured rate."""


def busiest(times: list[float], window: float) -> int:
    """The most calls that arrived within any `window` seconds."""
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] > window:
            first += 1
        most = max(most, last - first + 1)
    return most


@pytest.mark.xfail(strict=True, raises=RateExceeded, reason=(
    "production bug (cluster-wide Stripe token bucket, issue #13): the limiter is per "
    "process - two workers together sent 59-60 Stripe calls in 5 s (11.8-12.0/s) with "
    "STRIPE_MAX_REQUESTS_PER_SECOND=5, against 6/s allowed (the rate plus one full bucket): "
    "twice the configured rate"))
async def test_two_workers_together_stay_within_the_stripe_rate(stacks, shop, engine):
    stack = await stacks(stripe_max_requests_per_second=RATE)
    await stack.start_api()
    await stack.start_worker()
    await stack.start_worker()
    tenants = await shop.tenants(15)
    for tenant in tenants:
        await shop.buy(tenant)
    events = await shop.events()
    answers = Answers()
    started = time.monotonic()
    async with http_client() as http:
        await WebhookSender(http, stack.api_url, answers).burst(shuffled(events, 29, 1), 16)
    seconds, verdict = await converge(engine, shop, tenants, timeout=120, since=started)
    calls = [t for t, _, _ in await shop.service_calls()]
    peak = busiest(calls, WINDOW)
    result = record(CaseResult(
        case="Stripe rate, two workers",
        injected=f"STRIPE_MAX_REQUESTS_PER_SECOND={RATE:.0f}, two worker processes, "
                 f"{len(handled_ids(events))} events queued at once",
        in_flight=len(handled_ids(events)),
        converge_s=seconds,
        lost=verdict.lost,
        applied_twice=len(verdict.twice),
        outcome=f"peak {peak / WINDOW:.1f} calls/s over {WINDOW:.0f} s "
                f"(limit {RATE:.0f}/s + one burst: {ALLOWED_IN_WINDOW / WINDOW:.1f}/s)",
        details=f"{verdict.describe()}; {len(calls)} Stripe calls, at most "
                f"{busiest(calls, 1.0)} within 1 s",
    ))
    assert seconds is not None, f"not whole again: {verdict.describe()}\n{stack.logs()}"
    assert verdict.twice == {}, result.details
    if peak > ALLOWED_IN_WINDOW:
        raise RateExceeded(result.outcome)
