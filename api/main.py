"""Builds the FastAPI app; its lifespan creates the DB engine and the Temporal client once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.after_ack import AfterAck
from api.dev_tools import install_dev_tools
from api.docs import install_offline_docs
from api.errors import install_error_handlers
from api.path_guard import NulPathGuard
from api.request_context import RequestLogContext
from api.routes import (
    billing_status,
    catalog,
    checkout,
    checkout_status,
    entitlements,
    health,
    plans,
    portal,
    stripe_events,
    trace,
    webhook,
)
from api.started_events import RecentlyStarted
from core.config import Settings, get_settings
from core.db import create_db_engine, session_factory
from core.logging import register_secret
from core.temporal_client import API_RETRY, connect_temporal
from core.tokens import TokenPolicy, TokenVerifier


def create_app(settings: Settings | None = None) -> FastAPI:
    app_settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every secret, the Stripe key included although the API never calls Stripe (the
        # workflows do): a value in a request or error must never reach a log in clear.
        for secret in app_settings.secret_values():
            register_secret(secret)
        # Two pools: the webhook route's own, which no slow route can drain, and the rest.
        # Every API transaction is short, so PostgreSQL ends one left idle past a few seconds.
        deadline = app_settings.api_db_timeout_seconds
        idle = max(5.0, 2 * deadline)
        engine = create_db_engine(
            app_settings.database_url,
            pool_size=app_settings.api_db_pool_size,
            timeout_seconds=deadline,
            idle_in_transaction_seconds=idle,
        )
        webhook_engine = create_db_engine(
            app_settings.database_url,
            pool_size=app_settings.webhook_db_pool_size,
            timeout_seconds=deadline,
            idle_in_transaction_seconds=idle,
        )
        app.state.settings = app_settings
        app.state.engine = engine
        app.state.webhook_engine = webhook_engine
        app.state.sessions = session_factory(engine)
        # Lazy: the API starts (and answers 503) even while Temporal is still coming up.
        app.state.temporal = await connect_temporal(app_settings, lazy=True, retry=API_RETRY)
        app.state.started_events = RecentlyStarted()
        app.state.after_ack = AfterAck()
        try:
            yield
        finally:
            await app.state.after_ack.drain(timeout=5.0)
            await engine.dispose()
            await webhook_engine.dispose()

    app = FastAPI(
        title="Billing orchestrator",
        summary="Stripe Checkout, Billing Portal and webhooks, orchestrated by Temporal.",
        version="0.1.0",
        lifespan=lifespan,
        # Served from local assets by install_offline_docs, never from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    # Built once: its JWKS cache is shared by every request of this process.
    app.state.token_verifier = TokenVerifier(TokenPolicy.from_settings(app_settings))
    install_error_handlers(app)
    app.add_middleware(RequestLogContext)
    app.add_middleware(NulPathGuard)
    app.include_router(health.router)
    app.include_router(billing_status.router)
    app.include_router(checkout.router)
    app.include_router(portal.router)
    app.include_router(catalog.router)
    app.include_router(webhook.router)
    app.include_router(checkout_status.router)
    app.include_router(trace.router)
    app.include_router(plans.router)
    app.include_router(entitlements.router)
    install_offline_docs(app)
    if app_settings.dev_tools_enabled:
        install_dev_tools(app)
    app.include_router(stripe_events.router)
    return app
