"""The HTTP client entitlement notices are POSTed with: bounded in every phase, no redirects."""

from __future__ import annotations

import httpx

from core.config import Settings

USER_AGENT = "billing-entitlements/1"


def notice_client(settings: Settings) -> httpx.AsyncClient:
    """One per worker. Each phase is bounded here; the whole attempt is bounded by its
    caller too, so a receiver that trickles bytes cannot hold a delivery open."""
    seconds = settings.app_webhook_timeout_seconds
    return httpx.AsyncClient(
        timeout=httpx.Timeout(seconds, connect=min(seconds, 5.0)),
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        # A redirect is an answer, not a delivery: the receiver's URL is configured exactly.
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )
