"""Checkout activities: read what a checkout needs, create the Stripe session, record it."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from stripe.params.checkout import SessionCreateParams
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.failures import reported
from core.db import transaction
from models.catalog import PlanVariant
from models.checkout import CheckoutSession, StripeCheckoutIdempotency
from models.checkout_payloads import (
    IDEMPOTENCY_TTL_HOURS,
    STRIPE_REQUEST_REFUSED,
    CheckoutContextInput,
    CheckoutContextResult,
    CheckoutSessionCreated,
    CreateCheckoutSessionInput,
    RecordCheckoutInput,
)
from models.subscription import Subscription
from models.vocabulary import ENTITLED_STATUSES, CheckoutStatus, Plan

SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"


def success_url(configured: str) -> str:
    """The configured URL, made to carry the session id the return page polls with."""
    if SESSION_ID_PLACEHOLDER in configured:
        return configured
    separator = "&" if "?" in configured else "?"
    return f"{configured}{separator}session_id={SESSION_ID_PLACEHOLDER}"


def stripe_checkout_key(data: CreateCheckoutSessionInput) -> str:
    """Derived from our key and what the request sends, so a retry with a remapped customer
    or a re-synced price is a new Stripe request, and an identical retry is Stripe's replay."""
    target = hashlib.sha256(f"{data.stripe_customer_id}|{data.stripe_price_id}".encode())
    return f"checkout:v1:{data.workspace_id}:{data.idempotency_key}:{target.hexdigest()[:16]}"


class CheckoutActivities:
    """The short DB and Stripe steps of CheckoutWorkflow (run as local activities)."""

    def __init__(self, deps: ActivityDeps) -> None:
        self._settings = deps.settings
        self._sessions = deps.sessions
        self._stripe = deps.gateway

    @activity.defn(name="checkout.load_context")
    async def load_context(self, data: CheckoutContextInput) -> CheckoutContextResult:
        workspace_id = uuid.UUID(data.workspace_id)
        async with self._sessions() as session:
            price_id = (
                await session.exec(
                    select(PlanVariant.stripe_price_id)
                    .where(PlanVariant.plan_slug == data.plan_slug)
                    .where(PlanVariant.interval == data.interval)
                    .where(PlanVariant.currency == "usd")
                )
            ).one_or_none()
            paid = (
                await session.exec(
                    select(Subscription.id)
                    .where(col(Subscription.workspace_id) == workspace_id)
                    .where(col(Subscription.status).in_(ENTITLED_STATUSES))
                    .where(Subscription.plan_slug != Plan.FREE)
                    .limit(1)
                )
            ).first()
        return CheckoutContextResult(
            stripe_price_id=price_id, has_paid_subscription=paid is not None
        )

    @activity.defn(name="checkout.create_session")
    async def create_session(self, data: CreateCheckoutSessionInput) -> CheckoutSessionCreated:
        metadata = {
            "workspace_id": data.workspace_id,
            "plan_slug": data.plan_slug,
            "interval": data.interval,
        }
        params: SessionCreateParams = {
            "mode": "subscription",
            "customer": data.stripe_customer_id,
            "client_reference_id": data.workspace_id,
            "line_items": [{"price": data.stripe_price_id, "quantity": 1}],
            "metadata": {**metadata, "idempotency_key": data.idempotency_key},
            "subscription_data": {"metadata": metadata},
            "success_url": success_url(self._settings.checkout_success_url),
            "cancel_url": self._settings.checkout_cancel_url,
        }
        with reported():
            session = await self._stripe.call(
                "checkout.sessions.create",
                self._stripe.client.v1.checkout.sessions.create_async(
                    params, options={"idempotency_key": stripe_checkout_key(data)}
                ),
            )
        if not session.url:
            raise ApplicationError(
                "stripe answered a checkout session without url",
                type=STRIPE_REQUEST_REFUSED,
                non_retryable=True,
            )
        return CheckoutSessionCreated(id=session.id, url=session.url, expires_at=session.expires_at)

    @activity.defn(name="checkout.record")
    async def record(self, data: RecordCheckoutInput) -> None:
        """The pending session (support tracing) and the answer replayed for this key."""
        workspace_id = uuid.UUID(data.workspace_id)
        key = uuid.UUID(data.idempotency_key)
        response = data.session.model_dump()
        now = datetime.now(UTC)
        async with transaction(self._sessions) as session:
            await session.execute(
                insert(CheckoutSession)
                .values(
                    id=data.session.id,
                    workspace_id=workspace_id,
                    idempotency_key=key,
                    stripe_customer_id=data.stripe_customer_id,
                    plan_slug=data.plan_slug,
                    interval=data.interval,
                    stripe_price_id=data.stripe_price_id,
                    status=CheckoutStatus.PENDING,
                    url=data.session.url,
                    expires_at=datetime.fromtimestamp(data.session.expires_at, UTC),
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
            claim = insert(StripeCheckoutIdempotency).values(
                workspace_id=workspace_id,
                idempotency_key=key,
                request_hash=data.request_hash,
                user_id=uuid.UUID(data.user_id) if data.user_id else None,
                checkout_session_id=data.session.id,
                response=response,
                expires_at=now + timedelta(hours=IDEMPOTENCY_TTL_HOURS),
            )
            # The API claimed the key already; this fills its answer (or claims it, if not).
            await session.execute(
                claim.on_conflict_do_update(
                    constraint="uq_checkout_idempotency_key",
                    set_={
                        "checkout_session_id": claim.excluded.checkout_session_id,
                        "response": claim.excluded.response,
                    },
                    where=col(StripeCheckoutIdempotency.request_hash) == data.request_hash,
                )
            )
