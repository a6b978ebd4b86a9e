"""One live paid subscription per workspace: which of several wins, and what the others cost.

Seed 001 makes paid plans non-stackable. When Stripe holds more than one live subscription
(`active`, `trialing`, `past_due`) for a workspace's customer — two tabs both paid, a
subscription made in the dashboard — the winner is chosen from Stripe's whole live set, so
every event order and every reconcile run picks the same one:

1. payment state: `active` > `trialing` > `past_due` (a paid one never loses to an unpaid or
   trial one);
2. plan: business > pro;
3. interval: yearly > monthly;
4. the earlier `created`;
5. the smaller id.

This module is pure: `choose_winner` decides, `plan_settlement` says what to do with each
loser; `rules.settlement` carries it out against Stripe and the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.vocabulary import Interval, Plan, SettlementAction, SubscriptionStatus

LIVE_STATUSES = (
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.PAST_DUE,
)
_PAYMENT_RANK: dict[str, int] = {
    SubscriptionStatus.ACTIVE: 3,
    SubscriptionStatus.TRIALING: 2,
    SubscriptionStatus.PAST_DUE: 1,
}
_PLAN_RANK: dict[str | None, int] = {Plan.BUSINESS: 2, Plan.PRO: 1}
_INTERVAL_RANK: dict[str | None, int] = {Interval.YEARLY: 2, Interval.MONTHLY: 1}
# The criteria in order, named as the audit row records them.
RULES = ("payment_state", "plan", "interval", "created", "id")


@dataclass(frozen=True)
class LiveSubscription:
    """What the winner rule reads of a Stripe subscription."""

    id: str
    status: str
    plan: str | None
    interval: str | None
    created: int


@dataclass(frozen=True)
class Loser:
    subscription: LiveSubscription
    rule: str  # the first criterion that ranked it below the winner


@dataclass(frozen=True)
class Decision:
    winner: LiveSubscription
    losers: tuple[Loser, ...]


def _key(sub: LiveSubscription) -> tuple[int, int, int, int, str]:
    """Smaller sorts first: the winner is the minimum."""
    # StrEnum members hash and compare as their strings: plain lookups work.
    return (
        -_PAYMENT_RANK.get(sub.status, 0),
        -_PLAN_RANK.get(sub.plan, 0),
        -_INTERVAL_RANK.get(sub.interval, 0),
        sub.created,
        sub.id,
    )


def is_live(status: str) -> bool:
    return status in LIVE_STATUSES


def choose_winner(subscriptions: list[LiveSubscription]) -> Decision | None:
    """The winner among the live ones and why each other lost; None if fewer than two live."""
    live = sorted((s for s in subscriptions if is_live(s.status)), key=_key)
    if len(live) < 2:
        return None
    winner = live[0]
    losers = []
    for sub in live[1:]:
        deciding = next(
            rule for rule, ours, theirs in zip(RULES, _key(winner), _key(sub), strict=True)
            if ours != theirs
        )
        losers.append(Loser(sub, deciding))
    return Decision(winner, tuple(losers))


@dataclass(frozen=True)
class SettlementPlan:
    action: SettlementAction
    refund: bool  # refund its paid invoice in full
    prorate: bool  # cancel with prorate + invoice_now (unused time → balance credit)
    cancel: bool


def plan_settlement(
    loser: LiveSubscription, *, mode: str, refund_window: timedelta, now: datetime
) -> SettlementPlan:
    """`flag` records only; `cancel` refunds a fresh duplicate purchase in full and cancels
    without proration, and cancels an older one with proration (credit, not cash)."""
    if mode == "flag":
        return SettlementPlan(SettlementAction.FLAGGED, refund=False, prorate=False, cancel=False)
    fresh = now.timestamp() - loser.created < refund_window.total_seconds()
    if fresh:
        return SettlementPlan(SettlementAction.REFUNDED, refund=True, prorate=False, cancel=True)
    return SettlementPlan(SettlementAction.CREDITED, refund=False, prorate=True, cancel=True)
