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
BURST = RATE  # STRIPE_MAX_BURST
WORKERS, BLOCK = 2, 2  # each worker may hold one leased block of tokens
# The documented bound (README, "Stripe rate limit"): the rate over the window, plus one
# burst after a quiet spell, plus the blocks the workers hold.
ALLOWED_IN_WINDOW = RATE * WINDOW + BURST + WORKERS * BLOCK


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


async def test_two_workers_together_stay_within_the_stripe_rate(stacks, shop, engine):
    stack = await stacks(stripe_max_requests_per_second=RATE, stripe_max_burst=BURST)
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
                f"(limit {ALLOWED_IN_WINDOW:.0f} in {WINDOW:.0f} s: rate, burst and leased blocks)",
        details=f"{verdict.describe()}; {len(calls)} Stripe calls, at most "
                f"{busiest(calls, 1.0)} within 1 s",
    ))
    assert seconds is not None, f"not whole again: {verdict.describe()}\n{stack.logs()}"
    assert verdict.twice == {}, result.details
    if peak > ALLOWED_IN_WINDOW:
        raise RateExceeded(result.outcome)
