"""What activities are built from: created once by the worker and injected."""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from core.config import Settings


@dataclass(frozen=True)
class ActivityDeps:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    stripe: stripe.StripeClient
