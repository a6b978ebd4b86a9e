"""What activities are built from: created once by the worker and injected."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import stripe
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from core.config import Settings
from core.notice_http import notice_client
from core.stripe_gateway import StripeGateway


@dataclass(frozen=True)
class ActivityDeps:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    stripe: stripe.StripeClient
    # The one way to Stripe for every activity of this worker (paced by `stripe`'s client).
    gateway: StripeGateway = field(init=False)
    # Entitlement notices to the main application (APP_WEBHOOK_URL).
    notice_http: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "gateway", StripeGateway(self.stripe))
        object.__setattr__(self, "notice_http", notice_client(self.settings))
