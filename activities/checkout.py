"""Checkout activities: read what a checkout needs, create the Stripe session, record it."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from stripe.params.checkout import SessionCreateParams
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.failures import reported
from core.db import transaction
from core.stripe_gateway import StripeCallError
from models.catalog import PlanVariant
from models.checkout import CheckoutSession, StripeCheckoutIdempotency
from models.checkout_payloads import (
    IDEMPOTENCY_TTL_HOURS,
    STRIPE_REQUEST_REFUSED,
    SUBSCRIPTION_ALREADY_ACTIVE,
    WORKSPACE_GONE,
    CheckoutContextInput,
    CheckoutContextResult,
    CheckoutSessionCreated,
    CreateCheckoutSessionInput,
    RecordCheckoutInput,
)
from models.subscription import Subscription
from models.vocabulary import ENTITLED_STATUSES, CheckoutStatus, Plan
from rules.locks import lock_workspace
from rules.payable_sessions import (
    PendingSession,
    has_paid_subscription,
    insert_pending,
    mark_expired,
    pending_sessions,
    plan_for,
)

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


def workspace_gone() -> ApplicationError:
    return ApplicationError("workspace no longer exists", type=WORKSPACE_GONE, non_retryable=True)


def already_active() -> ApplicationError:
    return ApplicationError(
        "the workspace already has a paid subscription; manage it in the billing portal",
        type=SUBSCRIPTION_ALREADY_ACTIVE,
        non_retryable=True,
    )


def _answer(pending: PendingSession) -> CheckoutSessionCreated:
    expires = pending.expires_at or datetime.now(UTC)
    return CheckoutSessionCreated(
        id=pending.id, url=pending.url or "", expires_at=int(expires.timestamp())
    )


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
        """The workspace's one payable session: under the workspace's checkout lock, an open
        session of the same plan is answered again, any other pending one is expired in
        Stripe, and only then is a new one created and recorded pending."""
        workspace_id = uuid.UUID(data.workspace_id)
        with reported():
            async with transaction(self._sessions) as session:
                if not await lock_workspace(session, workspace_id):
                    raise workspace_gone()
                if await has_paid_subscription(session, workspace_id):
                    raise already_active()
                pending = await pending_sessions(session, workspace_id)
                choice = plan_for(
                    pending,
                    data.plan_slug,
                    data.interval,
                    data.stripe_customer_id,
                    datetime.now(UTC),
                )
                if choice.reuse is not None:
                    return _answer(choice.reuse)
                for stale in choice.expire:
                    settled = await self._expire(session, stale)
                    if settled is not None:
                        return settled
                created = await self._create(data)
                await insert_pending(
                    session,
                    checkout_session_id=created.id,
                    workspace_id=workspace_id,
                    idempotency_key=uuid.UUID(data.idempotency_key),
                    customer_id=data.stripe_customer_id,
                    plan_slug=data.plan_slug,
                    interval=data.interval,
                    price_id=data.stripe_price_id,
                    url=created.url,
                    expires_at=created.expires_at,
                )
                return created

    async def _expire(
        self, session: AsyncSession, stale: PendingSession
    ) -> CheckoutSessionCreated | None:
        """Expire a pending session in Stripe. Stripe refuses when it is no longer open: a
        completed one that was paid means the workspace is subscribed (409), one completed
        unpaid is the purchase in progress (answered again); None when it is gone."""
        try:
            await self._stripe.call(
                "checkout.sessions.expire",
                self._stripe.client.v1.checkout.sessions.expire_async(stale.id),
            )
        except StripeCallError as refused:
            if refused.retryable:
                raise
            current = await self._stripe.retrieve_checkout_session(stale.id)
            if current.get("status") == "complete":
                if current.get("payment_status") in ("paid", "no_payment_required"):
                    raise already_active() from None
                return _answer(stale)
            if current.get("status") != "expired":
                raise
        await mark_expired(session, stale.id)
        return None

    async def _create(self, data: CreateCheckoutSessionInput) -> CheckoutSessionCreated:
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
