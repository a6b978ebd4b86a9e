"""The Idempotency-Key contract of a checkout (seed 002 §3): one key, one payload, one answer.

A key is claimed in `stripe_checkout_idempotency` before any work: the row binds it to the
payload's hash for IDEMPOTENCY_TTL_HOURS from first use. A row that holds an answer is that
answer; another payload under the key, or an expired key, is refused.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
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


@dataclass(frozen=True)
class KeyClaim:
    answer: CheckoutSessionPublic | None
    # Concurrent duplicates of one key share one execution: only the first use is a start.
    first_use: bool


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
) -> tuple[StripeCheckoutIdempotency, bool]:
    """The key's row, and whether this request inserted it (a concurrent insert wins and is
    read back)."""
    row = await _find(session, workspace_id, key)
    inserted = False
    if row is None:
        claimed = await session.execute(
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
            .returning(col(StripeCheckoutIdempotency.id))
        )
        inserted = claimed.first() is not None
        row = await _find(session, workspace_id, key)
    await session.commit()
    assert row is not None  # inserted or kept by the conflicting insert
    return row, inserted


async def claim_key(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    key: uuid.UUID,
    hashed: str,
    user_id: uuid.UUID,
) -> KeyClaim:
    """Bind `key` to the payload `hashed` (committed): the answer already cached under it
    (None when the checkout must run), and whether this request is the key's first use.
    Raises IdempotencyKeyExpired or IdempotencyKeyReused."""
    row, first_use = await _claim_row(session, workspace_id, key, hashed, user_id)
    if row.expires_at <= datetime.now(UTC):
        raise IdempotencyKeyExpired(str(key))
    ensure_same_payload(row.request_hash, hashed)
    answer = CheckoutSessionPublic.model_validate(row.response) if row.response else None
    return KeyClaim(answer, first_use)


def ensure_same_payload(bound_hash: str, hashed: str) -> None:
    """Raises IdempotencyKeyReused unless the key was bound to this very payload."""
    if bound_hash != hashed:
        raise IdempotencyKeyReused("the key is bound to another payload")
