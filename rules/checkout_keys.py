"""The Idempotency-Key contract of a checkout (seed 002 §3): one key, one payload, one answer.

A key is claimed in `stripe_checkout_idempotency` before any work: the row binds it to the
payload's hash for IDEMPOTENCY_TTL_HOURS from first use. A row that holds an answer is that
answer; another payload under the key, or an expired key, is refused.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.checkout import StripeCheckoutIdempotency
from models.checkout_payloads import IDEMPOTENCY_TTL_HOURS
from models.schemas import CheckoutRequest, CheckoutSessionPublic


class IdempotencyKeyExpired(Exception):
    """The key's binding ran out; a new checkout attempt needs a new key."""


class IdempotencyKeyReused(Exception):
    """The key is bound to another payload."""


def payload_hash(body: CheckoutRequest) -> str:
    """A stable hash of the payload: key order and spacing of the client's JSON do not count."""
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
            # The row as stored now, not as this session's identity map may remember it.
            .execution_options(populate_existing=True)
        )
    ).one_or_none()


async def _claim_row(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    key: uuid.UUID,
    hashed: str,
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
                request_hash=hashed,
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


async def claim_key(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    key: uuid.UUID,
    hashed: str,
    user_id: uuid.UUID,
) -> CheckoutSessionPublic | None:
    """Bind `key` to the payload `hashed` (committed); the answer already cached under it, or
    None when the checkout must run. Raises IdempotencyKeyExpired or IdempotencyKeyReused."""
    row = await _claim_row(session, workspace_id, key, hashed, user_id)
    if row.expires_at <= datetime.now(UTC):
        raise IdempotencyKeyExpired(str(key))
    ensure_same_payload(row.request_hash, hashed)
    if row.response:
        return CheckoutSessionPublic.model_validate(row.response)
    return None


def ensure_same_payload(bound_hash: str, hashed: str) -> None:
    """Raises IdempotencyKeyReused unless the key was bound to this very payload."""
    if bound_hash != hashed:
        raise IdempotencyKeyReused("the key is bound to another payload")
