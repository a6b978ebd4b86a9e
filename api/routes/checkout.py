"""`POST .../checkout-session`: durable, idempotent Stripe Checkout (seed 002 §3).

The Idempotency-Key is claimed in `stripe_checkout_idempotency` before any work: the row binds
the key to the payload's hash for 24 h from first use. Then:
- the row holds an answer → that cached session, without starting a workflow;
- another payload → 422 IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD; expired → 422 EXPIRED;
- otherwise run `checkout:{workspace_id}:{key}` (USE_EXISTING, so concurrent duplicates share
  one execution and one Stripe session) and answer its result.
Failed attempts are not cached: the reuse policy ALLOW_DUPLICATE_FAILED_ONLY lets a retry with
the same key run again (a 502 or 503 is safely retryable; a 409/422 answers the same while the
facts are the same), while a completed execution is never run twice.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.common import WorkflowIDReusePolicy

from api.deps import ManagerAccess, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.temporal_errors import run_workflow
from core.constants import checkout_workflow_id
from models.checkout import StripeCheckoutIdempotency
from models.checkout_payloads import IDEMPOTENCY_TTL_HOURS, CheckoutInput
from models.schemas import CheckoutRequest, CheckoutSessionPublic
from workflows.checkout import CHECKOUT_EXECUTION_TIMEOUT, CheckoutWorkflow

router = APIRouter(prefix="/api/v1/stripe/workspaces", tags=["checkout"])


def parse_idempotency_key(raw: str | None) -> uuid.UUID:
    if raw is None or not raw.strip():
        raise ApiError(
            400, "IDEMPOTENCY_KEY_REQUIRED", "the Idempotency-Key header (a UUID) is required"
        )
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise ApiError(
            400, "IDEMPOTENCY_KEY_INVALID", "the Idempotency-Key header must be a UUID"
        ) from None


async def parse_body(request: Request) -> CheckoutRequest:
    try:
        body: Any = await request.json()
    except ValueError:
        raise ApiError(422, "VALIDATION_ERROR", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ApiError(422, "VALIDATION_ERROR", "the body must be a JSON object")
    try:
        return CheckoutRequest.model_validate(body)
    except ValidationError:
        raise ApiError(
            422,
            "PLAN_NOT_AVAILABLE",
            "plan_slug must be pro or business and interval monthly or yearly",
        ) from None


def request_hash(body: CheckoutRequest) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _find(
    session: AsyncSession, workspace_id: uuid.UUID, key: uuid.UUID
) -> StripeCheckoutIdempotency | None:
    return (
        await session.exec(
            select(StripeCheckoutIdempotency)
            .where(col(StripeCheckoutIdempotency.workspace_id) == workspace_id)
            .where(col(StripeCheckoutIdempotency.idempotency_key) == key)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()


async def claim_key(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    key: uuid.UUID,
    payload_hash: str,
    user_id: uuid.UUID,
) -> StripeCheckoutIdempotency:
    """The key's row: found, or inserted now (a concurrent insert wins and is read back)."""
    row = await _find(session, workspace_id, key)
    if row is None:
        await session.execute(
            insert(StripeCheckoutIdempotency)
            .values(
                workspace_id=workspace_id,
                idempotency_key=key,
                request_hash=payload_hash,
                user_id=user_id,
                response={},
                expires_at=datetime.now(UTC) + timedelta(hours=IDEMPOTENCY_TTL_HOURS),
            )
            .on_conflict_do_nothing(constraint="uq_checkout_idempotency_key")
        )
        row = await _find(session, workspace_id, key)
    await session.commit()
    assert row is not None  # inserted or kept by the conflicting insert
    return row


def _check_row(row: StripeCheckoutIdempotency, payload_hash: str) -> CheckoutSessionPublic | None:
    """The cached answer, None to run the workflow, or the 422 the contract gives."""
    if row.expires_at <= datetime.now(UTC):
        raise ApiError(
            422,
            "IDEMPOTENCY_KEY_EXPIRED",
            "this Idempotency-Key expired; use a new key for a new checkout attempt",
        )
    if row.request_hash != payload_hash:
        raise _reused()
    if row.response:
        return CheckoutSessionPublic.model_validate(row.response)
    return None


def _reused() -> ApiError:
    return ApiError(
        422,
        "IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD",
        "this Idempotency-Key was used with another payload; use a new key",
    )


@router.post(
    "/{workspace_id}/checkout-session",
    response_model=CheckoutSessionPublic,
    summary="Create (or replay) a Stripe Checkout session for a self-serve plan",
)
async def create_checkout_session(
    access: ManagerAccess,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> CheckoutSessionPublic:
    key = parse_idempotency_key(idempotency_key)
    body = await parse_body(request)
    payload_hash = request_hash(body)
    row = await claim_key(session, access.workspace_id, key, payload_hash, access.user_id)
    cached = _check_row(row, payload_hash)
    if cached is not None:
        return cached
    result = await run_workflow(
        temporal,
        CheckoutWorkflow.run,
        CheckoutInput(
            workspace_id=str(access.workspace_id),
            idempotency_key=str(key),
            user_id=str(access.user_id),
            plan_slug=body.plan_slug,
            interval=body.interval,
            request_hash=payload_hash,
        ),
        workflow_id=checkout_workflow_id(str(access.workspace_id), str(key)),
        task_queue=settings.temporal_task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        execution_timeout=CHECKOUT_EXECUTION_TIMEOUT,
    )
    if result.request_hash != payload_hash:
        raise _reused()
    return CheckoutSessionPublic(id=result.id, url=result.url, expires_at=result.expires_at)
