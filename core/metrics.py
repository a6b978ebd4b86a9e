"""Every Prometheus metric of the service, defined once (default registry).

The API serves them on `GET /metrics`, each worker on its own port (`core.worker_metrics`);
the README's "Metrics" section lists them.
"""

from __future__ import annotations

import time
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 21600, 86400)

WEBHOOKS_RECEIVED = Counter(
    "billing_webhook_received", "Verified Stripe webhook deliveries", ["event_type"]
)
WEBHOOKS_DUPLICATE = Counter(
    "billing_webhook_duplicate", "Deliveries of an event id already in the ledger", ["event_type"]
)
WEBHOOKS_IGNORED = Counter(
    "billing_webhook_ignored", "Events of a type this service does not handle", ["event_type"]
)
WEBHOOKS_FAILED = Counter(
    "billing_webhook_failed", "Events given up after retries (row marked failed)", ["event_type"]
)
WEBHOOKS_DEAD = Counter(
    "billing_webhook_dead",
    "Events whose attempts ran out (row marked dead, kept until an operator retries it)",
    ["event_type"],
)
WEBHOOKS_API_VERSION_MISMATCH = Counter(
    "billing_webhook_api_version_mismatch",
    "Verified events rendered in another Stripe API version than STRIPE_API_VERSION",
    ["api_version"],
)
WEBHOOKS_PROCESSED = Counter(
    "billing_webhook_processed", "Events applied to completion", ["event_type"]
)
WEBHOOKS_OUT_OF_ORDER = Counter(
    "billing_webhook_out_of_order",
    "Events older than the subscription state already applied (fresh state applied anyway)",
    ["event_type"],
)
CHECKOUT_FINALIZE_SECONDS = Histogram(
    "billing_checkout_finalize_seconds",
    "Checkout session created (our row) until a webhook or reconcile confirmed it",
    buckets=LATENCY_BUCKETS,
)
EVENT_TO_PLAN_SECONDS = Histogram(
    "billing_event_to_plan_seconds",
    "Stripe event created until its effect on the workspace's plan was committed",
    ["event_type"],
    buckets=LATENCY_BUCKETS,
)
CHECKOUT_RECONCILES = Counter(
    "billing_checkout_reconcile",
    "Long-pending checkout sessions reconciled from Stripe, by what Stripe said",
    ["outcome"],
)
SCHEDULE_RUNS = Counter(
    "billing_schedule_runs",
    "Runs of workflows started by a Temporal Schedule, by schedule, workflow and outcome",
    ["schedule", "workflow", "outcome"],
)

DUPLICATE_SUBSCRIPTIONS = Counter(
    "billing_duplicate_subscriptions",
    "Live subscriptions that lost to another of the same workspace, by what was done",
    ["action"],
)
UNATTRIBUTED_EVENTS = Counter(
    "billing_unattributed_events",
    "Events of objects that belong to no workspace of ours (ignored, reason not_ours)",
    ["event_type"],
)
RECONCILE_MISMATCHES = Counter(
    "billing_reconcile_mismatches",
    "Subscriptions whose local row differed from Stripe and were re-applied",
    ["field"],
)
GRACE_OUTCOMES = Counter("billing_grace_outcomes", "Expired grace periods by outcome", ["outcome"])
REPLAY_CURSOR_LAG = Gauge(
    "billing_replay_cursor_lag_seconds",
    "How far the Events API reconcile cursor is behind now (warns past 25 days)",
)
REPLAY_EVENTS_RECOVERED = Counter(
    "billing_replay_events_recovered",
    "Handled events found in the Events API that the webhook never stored",
    ["event_type"],
)

ENTITLEMENT_VERSIONS = Counter(
    "billing_entitlement_versions",
    "New entitlement snapshot versions committed, by what caused them",
    ["cause"],
)
NOTICE_ATTEMPTS = Counter(
    "billing_entitlement_notice_attempts",
    "Deliveries of entitlement notices to APP_WEBHOOK_URL, by outcome",
    ["outcome"],
)
NOTICES_FAILED = Counter(
    "billing_entitlement_notices_failed",
    "Newest entitlement notices given up after the retry window (alert on any)",
)
NOTICE_LAG_SECONDS = Histogram(
    "billing_entitlement_notice_lag_seconds",
    "A version's commit until the receiver acknowledged its notice",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400),
)


def observe_event_applied(event_type: str, event_created: int | None) -> None:
    """Event-to-plan latency: from Stripe's `created` to now (after the commit)."""
    if event_created is not None:
        EVENT_TO_PLAN_SECONDS.labels(event_type).observe(max(0.0, time.time() - event_created))


def observe_checkout_finalized(created_at: datetime, finalized_at: datetime) -> None:
    CHECKOUT_FINALIZE_SECONDS.observe(max(0.0, (finalized_at - created_at).total_seconds()))
