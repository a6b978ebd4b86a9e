"""`GET .../checkout-session/{session_id}`: the return page polls a purchase until finalized.

Answers from our row only — `pending` until a webhook (or a reconcile) confirms it, then
`confirmed` with the subscription id, or `expired`. The redirect never changes entitlement.
A session pending longer than CHECKOUT_PENDING_RECONCILE_SECONDS starts (without waiting for
it) `checkout-reconcile:{session_id}`, which asks Stripe and applies what it says as the
webhook would; the next poll sees the result. `reconcile_requested_at`, claimed atomically,
lets one poll start it and a later poll re-check only after RECHECK_AFTER — never a storm.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy import text
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from api.deps import MemberAccess, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError
from core.config import Settings
from core.constants import CHECKOUT_RECONCILE_WORKFLOW_PREFIX
from models.reconcile_payloads import CheckoutReconcileInput
from models.schemas import CheckoutStatusPublic
from workflows.checkout_reconcile import RECONCILE_EXECUTION_TIMEOUT, CheckoutReconcileWorkflow

router = APIRouter(prefix="/api/v1/stripe/workspaces", tags=["checkout"])
logger = logging.getLogger(__name__)

# The shortest wait between two reconciles of one session, whatever the threshold.
MIN_RECHECK = timedelta(seconds=15)

# One winner per window: pending long enough, and not reconciled recently.
CLAIM_RECONCILE = text(
    """
    UPDATE checkout_sessions SET reconcile_requested_at = now()
    WHERE id = :id AND workspace_id = :w AND status = 'pending'
      AND created_at <= now() - make_interval(secs => :threshold)
      AND (reconcile_requested_at IS NULL
           OR reconcile_requested_at <= now() - make_interval(secs => :recheck))
    RETURNING id
    """
)


def checkout_reconcile_workflow_id(session_id: str) -> str:
    return f"{CHECKOUT_RECONCILE_WORKFLOW_PREFIX}:{session_id}"


def recheck_after(settings: Settings) -> timedelta:
    return max(timedelta(seconds=settings.checkout_pending_reconcile_seconds), MIN_RECHECK)


async def start_reconcile(
    client: Client, settings: Settings, workspace_id: str, session_id: str
) -> None:
    """Start the reconcile; a run in flight is joined, a finished one may run again."""
    try:
        await client.start_workflow(
            CheckoutReconcileWorkflow.run,
            CheckoutReconcileInput(workspace_id=workspace_id, checkout_session_id=session_id),
            id=checkout_reconcile_workflow_id(session_id),
            task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            execution_timeout=RECONCILE_EXECUTION_TIMEOUT,
        )
    except Exception as exc:  # Temporal down: still pending; the next window re-claims
        logger.warning(
            "checkout reconcile of %s not started: %s",
            session_id,
            type(exc).__name__,
            extra={"workspace_id": workspace_id},
        )


@router.get(
    "/{workspace_id}/checkout-session/{session_id}",
    response_model=CheckoutStatusPublic,
    summary="Poll a checkout session until a webhook (or reconcile) finalizes it",
)
async def checkout_session_status(
    session_id: str,
    access: MemberAccess,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> CheckoutStatusPublic:
    params = {"id": session_id, "w": access.workspace_id}
    row = (
        await session.execute(
            text(
                "SELECT status, stripe_subscription_id FROM checkout_sessions "
                "WHERE id = :id AND workspace_id = :w"
            ),
            params,
        )
    ).first()
    if row is None:
        raise ApiError(404, "CHECKOUT_SESSION_NOT_FOUND", "no such checkout session")
    if row.status == "pending":
        claimed = (
            await session.execute(
                CLAIM_RECONCILE,
                {
                    **params,
                    "threshold": settings.checkout_pending_reconcile_seconds,
                    "recheck": recheck_after(settings).total_seconds(),
                },
            )
        ).first()
        await session.commit()
        if claimed is not None:
            await start_reconcile(temporal, settings, str(access.workspace_id), session_id)
    return CheckoutStatusPublic(
        status=row.status,
        subscription_id=row.stripe_subscription_id if row.status == "confirmed" else None,
    )
