"""Workspace ↔ Stripe customer mapping: validate before use, self-heal when stale (seed 002 §5).

Every checkout and portal request calls `ensure_customer` first. The fast path reads the
mapping and retrieves the customer from Stripe (one DB read, one Stripe GET, one audit row).
Any change to the mapping happens under the workspace's billing lock (`rules.locks`), and
the mapping is re-read under that lock, so concurrent requests for one workspace (whatever
their keys) create at most one new customer: the second waiter finds the first one's
customer and validates it.
"""

from __future__ import annotations

import hashlib
import logging
import uuid

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from stripe.params import CustomerCreateParams
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.failures import reported
from core.db import transaction
from models.checkout_payloads import WORKSPACE_GONE, EnsureCustomerInput, EnsureCustomerResult
from models.customer import WorkspaceBillingCustomer, WorkspaceBillingCustomerEvent
from models.workspace import Workspace
from rules.locks import lock_workspace

logger = logging.getLogger(__name__)

CUSTOMER_NAME_MAX_CHARS = 256


def customer_idempotency_key(workspace_id: str, request_scope: str, replaces: str | None) -> str:
    """`customer:v2:{workspaceId}:{requestScopeHash}` (seed 002 §5).

    The scope hash also covers the customer being replaced, so a request that must replace a
    customer it created itself (deleted in between) gets a new one instead of Stripe's replay.
    """
    scope = f"{request_scope}|{replaces or ''}"
    return f"customer:v2:{workspace_id}:{hashlib.sha256(scope.encode()).hexdigest()[:32]}"


class CustomerActivities:
    """Reads and repairs `workspace_billing_customers`, auditing every decision."""

    def __init__(self, deps: ActivityDeps) -> None:
        self._sessions = deps.sessions
        self._stripe = deps.gateway

    @activity.defn(name="customers.ensure")
    async def ensure_customer(self, data: EnsureCustomerInput) -> EnsureCustomerResult:
        with reported():
            return await self._ensure(data)

    async def _ensure(self, data: EnsureCustomerInput) -> EnsureCustomerResult:
        workspace_id = uuid.UUID(data.workspace_id)
        stale, reason = data.stale_customer_id, "session_refused_customer"
        if stale is None:
            async with self._sessions() as session:
                mapped = await _mapped_customer(session, workspace_id)
            if mapped is not None:
                problem = await self._problem(mapped)
                if problem is None:
                    await self._audit_validated(workspace_id, mapped)
                    return EnsureCustomerResult(stripe_customer_id=mapped, outcome="validated")
                stale, reason = mapped, problem
        return await self._remap(workspace_id, data.request_scope, stale, reason)

    async def _problem(self, customer_id: str) -> str | None:
        """None when Stripe has this customer live, else why it is unusable."""
        customer = await self._stripe.retrieve_customer(customer_id)
        if customer is None:
            return "customer_missing"
        return "customer_deleted" if customer.get("deleted") else None

    async def _audit_validated(self, workspace_id: uuid.UUID, customer_id: str) -> None:
        async with transaction(self._sessions) as session:
            session.add(
                WorkspaceBillingCustomerEvent(
                    workspace_id=workspace_id,
                    event_type="validated",
                    old_stripe_customer_id=customer_id,
                    new_stripe_customer_id=customer_id,
                )
            )

    async def _remap(
        self, workspace_id: uuid.UUID, request_scope: str, stale: str | None, reason: str
    ) -> EnsureCustomerResult:
        async with transaction(self._sessions) as session:
            # The billing lock (not the main application's row): a slow Stripe call below
            # blocks only other billing work of this workspace.
            locked = await lock_workspace(session, workspace_id)
            workspace = await session.get(Workspace, workspace_id) if locked else None
            if workspace is None:
                raise ApplicationError(
                    "workspace no longer exists", type=WORKSPACE_GONE, non_retryable=True
                )
            current = await _mapped_customer(session, workspace_id)
            if current is not None and current != stale:
                # Another request remapped while we waited for the lock: reuse its customer.
                problem = await self._problem(current)
                if problem is None:
                    session.add(
                        WorkspaceBillingCustomerEvent(
                            workspace_id=workspace_id,
                            event_type="validated",
                            old_stripe_customer_id=current,
                            new_stripe_customer_id=current,
                        )
                    )
                    return EnsureCustomerResult(
                        stripe_customer_id=current, outcome="remapped_concurrently"
                    )
                stale, reason = current, problem
            if current is not None:
                await session.exec(
                    delete(WorkspaceBillingCustomer).where(
                        col(WorkspaceBillingCustomer.workspace_id) == workspace_id
                    )
                )
                session.add(
                    WorkspaceBillingCustomerEvent(
                        workspace_id=workspace_id,
                        event_type="invalidated",
                        old_stripe_customer_id=current,
                        reason=reason,
                    )
                )
                logger.warning(
                    "stale stripe customer %s invalidated (%s)",
                    current,
                    reason,
                    extra={"workspace_id": str(workspace_id)},
                )
            # The customer being replaced: the mapped one, or the stale one a refused session
            # named even when `customer.deleted` already dropped its mapping. It is part of the
            # Stripe idempotency key, so replacing it never replays its own creation.
            replaced = current if current is not None else stale
            new_id = await self._create(workspace, request_scope, replaced)
            session.add(
                WorkspaceBillingCustomer(workspace_id=workspace_id, stripe_customer_id=new_id)
            )
            session.add(
                WorkspaceBillingCustomerEvent(
                    workspace_id=workspace_id,
                    event_type="recreated",
                    old_stripe_customer_id=replaced,
                    new_stripe_customer_id=new_id,
                    reason=reason if replaced is not None else "no_mapping",
                )
            )
        return EnsureCustomerResult(
            stripe_customer_id=new_id, outcome="recreated" if replaced else "created"
        )

    async def _create(self, workspace: Workspace, request_scope: str, replaces: str | None) -> str:
        key = customer_idempotency_key(str(workspace.id), request_scope, replaces)
        params: CustomerCreateParams = {"metadata": {"workspace_id": str(workspace.id)}}
        if workspace.name:
            # Stripe refuses a customer name over 256 characters; the workspace's may be longer.
            params["name"] = workspace.name[:CUSTOMER_NAME_MAX_CHARS]
        customer = await self._stripe.call(
            "customers.create",
            self._stripe.client.v1.customers.create_async(params, options={"idempotency_key": key}),
        )
        return customer.id


async def _mapped_customer(session: AsyncSession, workspace_id: uuid.UUID) -> str | None:
    return (
        await session.exec(
            select(WorkspaceBillingCustomer.stripe_customer_id).where(
                col(WorkspaceBillingCustomer.workspace_id) == workspace_id
            )
        )
    ).one_or_none()
