"""Property, pure tier: the duplicate-subscription rules over an in-memory Stripe.

No database, no Temporal: hundreds of random sets of live subscriptions, seen in random
orders and settled again and again, as shuffled and duplicated events would make the service
do. The winner must not depend on the order, a paid subscription never loses to an unpaid
or trial one, and under `cancel` Stripe ends with exactly one live subscription whose loser
was refunded or credited once.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.vocabulary import SettlementAction
from rules.duplicates import LiveSubscription, choose_winner, is_live, plan_settlement

EXAMPLES = int(os.environ.get("BILLING_PROPERTY_EXAMPLES", "400"))
NOW = datetime(2026, 12, 1, tzinfo=UTC)
STATUSES = ["active", "trialing", "past_due", "incomplete", "canceled", "unpaid"]
SUBSCRIPTION = st.builds(
    LiveSubscription,
    id=st.from_regex(r"sub_[a-z0-9]{6}", fullmatch=True),
    status=st.sampled_from(STATUSES),
    plan=st.sampled_from(["pro", "business", None]),
    interval=st.sampled_from(["monthly", "yearly", None]),
    created=st.integers(int((NOW - timedelta(days=90)).timestamp()), int(NOW.timestamp())),
)
SUBSCRIPTIONS = st.lists(SUBSCRIPTION, min_size=0, max_size=6, unique_by=lambda s: s.id)
PAYMENT_RANK = {"active": 3, "trialing": 2, "past_due": 1}


@dataclass
class InMemoryStripe:
    """Stripe's subscriptions of one customer, and what settlement did to them."""

    subscriptions: dict[str, LiveSubscription]
    refunded: list[str] = field(default_factory=list)
    credited: list[str] = field(default_factory=list)
    settled: set[str] = field(default_factory=set)  # the audit rows, one per loser

    def settle(self, mode: str, order: list[str]) -> str | None:
        """One event's settlement, listing Stripe's subscriptions in `order`."""
        listed = [self.subscriptions[i] for i in order]
        decision = choose_winner(listed)
        if decision is None:
            return None
        for loser in decision.losers:
            plan = plan_settlement(
                loser.subscription, mode=mode, refund_window=timedelta(hours=48), now=NOW
            )
            if plan.refund:
                self.refunded.append(loser.subscription.id)
            if plan.prorate:
                self.credited.append(loser.subscription.id)
            if plan.cancel:
                sub = loser.subscription
                self.subscriptions[sub.id] = LiveSubscription(
                    sub.id, "canceled", sub.plan, sub.interval, sub.created
                )
            self.settled.add(loser.subscription.id)
        return decision.winner.id


def better(a: LiveSubscription, b: LiveSubscription) -> bool:
    """a strictly beats b on payment state alone."""
    return PAYMENT_RANK[a.status] > PAYMENT_RANK[b.status]


@settings(max_examples=EXAMPLES, deadline=None)
@given(subs=SUBSCRIPTIONS, rnd=st.randoms(use_true_random=False))
def test_the_winner_does_not_depend_on_the_order(
    subs: list[LiveSubscription], rnd: random.Random
) -> None:
    first = choose_winner(subs)
    shuffled = list(subs)
    rnd.shuffle(shuffled)
    again = choose_winner(shuffled)
    live = [s for s in subs if is_live(s.status)]
    if len(live) < 2:
        assert first is None and again is None
        return
    assert first is not None and again is not None
    assert first.winner == again.winner
    assert {loser.subscription.id for loser in first.losers} == {s.id for s in live} - {
        first.winner.id
    }
    # A paid subscription never loses to an unpaid or trial one.
    assert not any(better(loser.subscription, first.winner) for loser in first.losers)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    subs=SUBSCRIPTIONS,
    mode=st.sampled_from(["cancel", "flag"]),
    rnd=st.randoms(use_true_random=False),
    deliveries=st.integers(1, 6),
)
def test_settling_again_and_again_leaves_one_live_subscription(
    subs: list[LiveSubscription], mode: str, rnd: random.Random, deliveries: int
) -> None:
    stripe = InMemoryStripe({s.id: s for s in subs})
    expected = choose_winner(subs)
    winners = set()
    for _ in range(deliveries):  # duplicated and shuffled events each settle once more
        order = list(stripe.subscriptions)
        rnd.shuffle(order)
        winner = stripe.settle(mode, order)
        if winner is not None:
            winners.add(winner)
    live = [s for s in stripe.subscriptions.values() if is_live(s.status)]
    if expected is None:
        assert winners == set() and not stripe.refunded and not stripe.credited
        return
    # Every settlement, whatever the order, named the same winner.
    assert winners == {expected.winner.id}
    if mode == "cancel":
        assert [s.id for s in live] == [expected.winner.id]
        losers = sorted(loser.subscription.id for loser in expected.losers)
        # Each loser refunded or credited exactly once, never both.
        assert sorted(stripe.refunded + stripe.credited) == losers
    else:
        assert len(live) == len([s for s in subs if is_live(s.status)])
        assert not stripe.refunded and not stripe.credited
    assert stripe.settled == {loser.subscription.id for loser in expected.losers}


@given(created_hours_ago=st.integers(0, 24 * 30), mode=st.sampled_from(["cancel", "flag"]))
def test_a_fresh_duplicate_is_refunded_an_older_one_credited(
    created_hours_ago: int, mode: str
) -> None:
    sub = LiveSubscription(
        "sub_x",
        "active",
        "pro",
        "monthly",
        int((NOW - timedelta(hours=created_hours_ago)).timestamp()),
    )
    plan = plan_settlement(sub, mode=mode, refund_window=timedelta(hours=48), now=NOW)
    if mode == "flag":
        assert plan.action == SettlementAction.FLAGGED and not plan.cancel
    elif created_hours_ago < 48:
        assert plan.action == SettlementAction.REFUNDED and plan.refund and not plan.prorate
    else:
        assert plan.action == SettlementAction.CREDITED and plan.prorate and not plan.refund
