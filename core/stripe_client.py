"""The one StripeClient of a process: configurable base URL, async HTTP, paced requests.

Pacing lives in the HTTP client, under the SDK: every request the client sends — a create,
a retrieve, each page of an auto-paging list — first takes a token, so no call path can
bypass the limit. Workers take their tokens from the cluster-wide bucket in PostgreSQL
(`core.shared_bucket`); one-off tools and tests use a bucket of their own process. A 429
from Stripe pauses the bucket for its `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import stripe

from core.config import Settings
from core.rate_limit import TokenBucket

# The longest pause a Stripe 429 may impose on the cluster.
MAX_RETRY_AFTER_SECONDS = 60.0


class Pacer(Protocol):
    async def acquire(self) -> float: ...

    async def pause(self, seconds: float) -> None: ...


def retry_after(headers: Mapping[str, str]) -> float:
    """Stripe's `Retry-After` in seconds (1 when absent or unreadable), bounded."""
    try:
        seconds = float(headers.get("retry-after") or headers.get("Retry-After") or 1.0)
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


class PacedHTTPXClient(stripe.HTTPXClient):
    """`stripe.HTTPXClient` whose async requests wait for a token of `bucket` first."""

    def __init__(self, bucket: Pacer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        await self.bucket.acquire()
        content, status, response_headers = await super().request_async(
            method, url, headers, post_data
        )
        if status == 429:
            await self.bucket.pause(retry_after(response_headers))
        return content, status, response_headers


def create_stripe_client(settings: Settings, bucket: Pacer | None = None) -> stripe.StripeClient:
    """The process's client; `bucket` defaults to a bucket of this process alone."""
    pacer = bucket or TokenBucket(settings.stripe_max_requests_per_second)
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},
        # One version for every call, whatever the SDK would default to.
        stripe_version=settings.stripe_api_version,
        http_client=PacedHTTPXClient(pacer, timeout=settings.stripe_http_timeout_seconds),
        # Retries belong to Temporal's retry policy, not to the SDK: one place decides.
        max_network_retries=settings.stripe_max_network_retries,
    )
