"""`POST .../checkout-session`: durable, idempotent Stripe Checkout (seed 002 §3).

The Idempotency-Key is claimed before any work (rules/checkout_keys.py). Then:
- the key already holds an answer → that cached session, without starting a workflow;
- another payload → 422 IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD; expired → 422 EXPIRED;
- otherwise run `checkout:{workspace_id}:{key}` (USE_EXISTING, so concurrent duplicates share
  one execution and one Stripe session) and answer its result.
Failed attempts are not cached: the reuse policy ALLOW_DUPLICATE_FAILED_ONLY lets a retry with
the same key run again (a 502 or 503 is safely retryable; a 409/422 answers the same while the
facts are the same), while a completed execution is never run twice.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from temporalio.common import WorkflowIDReusePolicy

from api.checkout_request import CheckoutBody, CheckoutRoute, IdempotencyKey
from api.db import run_db
from api.deps import ManagerAccess, SettingsDep, TemporalDep
from api.errors import ApiError
from api.limits import limit_starts
from api.temporal_errors import run_workflow
from core.constants import checkout_workflow_id
from models.checkout_payloads import CheckoutInput
from models.schemas import CheckoutSessionPublic
from models.vocabulary import ErrorCode
from rules.checkout_keys import (
    IdempotencyKeyExpired,
    IdempotencyKeyReused,
    claim_key,
    ensure_same_payload,
    payload_hash,
)
from workflows.checkout import CHECKOUT_EXECUTION_TIMEOUT, CheckoutWorkflow

router = APIRouter(prefix="/api/v1/stripe/workspaces", tags=["checkout"], route_class=CheckoutRoute)


@router.post(
    "/{workspace_id}/checkout-session",
    response_model=CheckoutSessionPublic,
    summary="Create (or replay) a Stripe Checkout session for a self-serve plan",
)
async def create_checkout_session(
    request: Request,
    access: ManagerAccess,
    key: IdempotencyKey,
    body: CheckoutBody,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> CheckoutSessionPublic:
    hashed = payload_hash(body)
    try:
        claim = await run_db(
            request, lambda s: claim_key(s, access.workspace_id, key, hashed, access.user_id)
        )
        if claim.answer is not None:
            return claim.answer  # a replay of an answer starts nothing: never limited
        if claim.first_use:  # duplicates of a key join its one execution
            await limit_starts(
                request, "checkout", access.workspace_id, settings.checkout_starts_per_minute
            )
        result = await run_workflow(
            temporal,
            CheckoutWorkflow.run,
            CheckoutInput(
                workspace_id=str(access.workspace_id),
                idempotency_key=str(key),
                user_id=str(access.user_id),
                plan_slug=body.plan_slug,
                interval=body.interval,
                request_hash=hashed,
            ),
            workflow_id=checkout_workflow_id(str(access.workspace_id), str(key)),
            task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            execution_timeout=CHECKOUT_EXECUTION_TIMEOUT,
            wait_seconds=settings.api_workflow_wait_seconds,
        )
        # The execution of this key may have been started by a request with another payload.
        ensure_same_payload(result.request_hash, hashed)
    except IdempotencyKeyExpired:
        raise ApiError(
            422,
            ErrorCode.IDEMPOTENCY_KEY_EXPIRED,
            "this Idempotency-Key expired; use a new key for a new checkout attempt",
        ) from None
    except IdempotencyKeyReused:
        raise ApiError(
            422,
            ErrorCode.IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD,
            "this Idempotency-Key was used with another payload; use a new key",
        ) from None
    return CheckoutSessionPublic(id=result.id, url=result.url, expires_at=result.expires_at)
