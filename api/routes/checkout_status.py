"""`GET .../checkout-session/{session_id}`: the return page polls a purchase until finalized.

The status comes from our row only (rules/checkout_status.py). When this poll claimed the
reconcile of a session pending too long, it starts `checkout-reconcile:{session_id}` without
waiting for it: the reconcile asks Stripe and applies what it says as the webhook would, and
the next poll sees the result.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from api.db import run_db
from api.deps import MemberAccess, SettingsDep, TemporalDep
from api.errors import ApiError
from core.config import Settings
from core.constants import CHECKOUT_RECONCILE_WORKFLOW_PREFIX
from models.reconcile_payloads import CheckoutReconcileInput
from models.schemas import CheckoutStatusPublic
from models.vocabulary import CheckoutPayment, ErrorCode
from rules.checkout_status import CheckoutSessionNotFound, poll_checkout_status
from workflows.checkout_reconcile import RECONCILE_EXECUTION_TIMEOUT, CheckoutReconcileWorkflow

router = APIRouter(prefix="/api/v1/stripe/workspaces", tags=["checkout"])
logger = logging.getLogger(__name__)


def checkout_reconcile_workflow_id(session_id: str) -> str:
    return f"{CHECKOUT_RECONCILE_WORKFLOW_PREFIX}:{session_id}"


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
    # `payment` and `reason` appear only when they say something.
    response_model_exclude_unset=True,
    summary="Poll a checkout session until a webhook (or reconcile) finalizes it",
)
async def checkout_session_status(
    request: Request,
    session_id: str,
    access: MemberAccess,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> CheckoutStatusPublic:
    try:
        status = await run_db(
            request,
            lambda s: poll_checkout_status(
                s,
                access.workspace_id,
                session_id,
                pending_reconcile_seconds=settings.checkout_pending_reconcile_seconds,
            ),
        )
    except CheckoutSessionNotFound:
        raise ApiError(
            404, ErrorCode.CHECKOUT_SESSION_NOT_FOUND, "no such checkout session"
        ) from None
    if status.reconcile_claimed:
        await start_reconcile(temporal, settings, str(access.workspace_id), session_id)
    answer = CheckoutStatusPublic(status=status.status, subscription_id=status.subscription_id)
    if status.payment is not None:
        answer.payment = CheckoutPayment(status.payment)
    if status.reason is not None:
        answer.reason = status.reason
    return answer
