"""The one StripeClient of a process: configurable base URL, async HTTP, paced requests.

Pacing lives in the HTTP client, under the SDK: every request the client sends — a create,
a retrieve, each page of an auto-paging list — first takes a token from the process's bucket
(`STRIPE_MAX_REQUESTS_PER_SECOND`), so no call path can bypass the limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe

from core.config import Settings
from core.rate_limit import TokenBucket


class PacedHTTPXClient(stripe.HTTPXClient):
    """`stripe.HTTPXClient` whose async requests wait for a token of `bucket` first."""

    def __init__(self, bucket: TokenBucket, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        await self.bucket.acquire()
        return await super().request_async(method, url, headers, post_data)


def create_stripe_client(settings: Settings) -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},
        # One version for every call, whatever the SDK would default to.
        stripe_version=settings.stripe_api_version,
        http_client=PacedHTTPXClient(TokenBucket(settings.stripe_max_requests_per_second)),
        # Retries belong to Temporal's retry policy, not to the SDK: one place decides.
        max_network_retries=settings.stripe_max_network_retries,
    )
