"""What a workspace has now: its plan, entitled subscription, grants and newest pending checkout."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.checkout import CheckoutSession
from models.schemas import BillingStatusPublic, PendingCheckoutPublic
from models.subscription import Subscription, WorkspaceGrant
from models.vocabulary import ENTITLED_STATUSES
from models.workspace import Workspace


class WorkspaceNotFound(LookupError):
    """No workspace has this id."""


async def read_billing_status(
    session: AsyncSession, workspace_id: uuid.UUID
) -> BillingStatusPublic:
    """The workspace's billing as its members see it; raises WorkspaceNotFound."""
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise WorkspaceNotFound(str(workspace_id))
    # At most one entitled row per workspace (a unique index), so one_or_none cannot raise.
    subscription = (
        await session.exec(
            select(Subscription)
            .where(col(Subscription.workspace_id) == workspace_id)
            .where(col(Subscription.status).in_(ENTITLED_STATUSES))
        )
    ).one_or_none()
    grants = (
        await session.exec(
            select(WorkspaceGrant).where(col(WorkspaceGrant.workspace_id) == workspace_id)
        )
    ).all()
    pending = (
        await session.exec(
            select(CheckoutSession)
            .where(col(CheckoutSession.workspace_id) == workspace_id)
            .where(CheckoutSession.status == "pending")
            .order_by(col(CheckoutSession.created_at).desc())
            .limit(1)
        )
    ).one_or_none()
    return BillingStatusPublic(
        workspace_id=str(workspace_id),
        plan=workspace.plan,
        subscription_status=subscription.status if subscription else None,
        interval=subscription.interval if subscription else None,
        current_period_end=subscription.current_period_end if subscription else None,
        cancel_at_period_end=subscription.cancel_at_period_end if subscription else False,
        grace_period_end=subscription.grace_period_end if subscription else None,
        stripe_subscription_id=subscription.stripe_subscription_id if subscription else None,
        grants={grant.grant_program_code: grant.value for grant in grants},
        pending_checkout=PendingCheckoutPublic(
            id=pending.id,
            plan_slug=pending.plan_slug,
            interval=pending.interval,
            created_at=pending.created_at,
            expires_at=pending.expires_at,
        )
        if pending
        else None,
    )
