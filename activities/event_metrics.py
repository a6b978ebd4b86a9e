"""Prometheus counters of the webhook pipeline (default registry, served by GET /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

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
WEBHOOKS_PROCESSED = Counter(
    "billing_webhook_processed", "Events applied to completion", ["event_type"]
)
WEBHOOKS_OUT_OF_ORDER = Counter(
    "billing_webhook_out_of_order",
    "Events older than the subscription state already applied (fresh state applied anyway)",
    ["event_type"],
)
