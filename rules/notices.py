"""The entitlement notice outbox: which notice goes next, and what an attempt leaves behind.

Ordering, per workspace: only the newest pending notice is ever sent (older pending ones are
`superseded` — each notice carries the whole snapshot), and one attempt at a time holds the
workspace's lease, so a receiver never sees an older version after a newer one. Each attempt
is counted with its error; the newest is retried with doubling backoff until its window
(`APP_WEBHOOK_RETRY_WINDOW_HOURS`, 3 days) runs out, then marked `failed` for an operator.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from core.config import Settings
from models.entitlement_payloads import DeliverOutcome
from models.entitlements import EntitlementNoticeBody, notice_id
from rules.entitlement_reads import public_from_row

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('billing-notices:' || :w, 0))")
_LEASED = text(
    "SELECT EXTRACT(EPOCH FROM max(lease_until) - now()) AS remaining "
    "FROM entitlement_notices WHERE workspace_id = :w AND lease_until > now()"
)
_NEWEST = text(
    "SELECT id, version, GREATEST(0, EXTRACT(EPOCH FROM next_attempt_at - now())) AS wait, "
    "(SELECT max(version) FROM entitlement_notices d WHERE d.workspace_id = :w "
    " AND d.status = 'delivered') AS delivered "
    "FROM entitlement_notices WHERE workspace_id = :w AND status = 'pending' "
    "ORDER BY version DESC LIMIT 1"
)
_SUPERSEDE = text(
    "UPDATE entitlement_notices SET status = 'superseded' "
    "WHERE workspace_id = :w AND status = 'pending' AND version <= :v"
)
_LEASE = text(
    "UPDATE entitlement_notices SET lease_token = :token, "
    "lease_until = now() + make_interval(secs => :seconds) WHERE id = :id"
)
_SNAPSHOT = text("SELECT * FROM workspace_entitlements WHERE workspace_id = :w AND version = :v")
_DELIVERED = text(
    "UPDATE entitlement_notices SET attempts = attempts + 1, last_attempt_at = now(), "
    "status = 'delivered', delivered_at = now(), last_http_status = :code, "
    "lease_until = NULL, lease_token = NULL WHERE id = :id AND lease_token = :token "
    "RETURNING EXTRACT(EPOCH FROM now() - created_at) AS lag"
)
# Backoff doubles from the first failure (`attempts` is the count before this one).
_FAILED = text(
    "UPDATE entitlement_notices SET attempts = attempts + 1, last_attempt_at = now(), "
    "last_error = :error, last_http_status = :code, lease_until = NULL, lease_token = NULL, "
    "status = CASE WHEN now() >= window_started_at + make_interval(secs => :window) "
    "THEN 'failed' ELSE 'pending' END, "
    "next_attempt_at = now() + make_interval(secs => LEAST(:initial * power(2, attempts), :cap)) "
    "WHERE id = :id AND lease_token = :token "
    "RETURNING status, EXTRACT(EPOCH FROM next_attempt_at - now()) AS retry_in"
)
# Attempts only record a short reason: never a receiver's whole answer.
MAX_ERROR_LENGTH = 300


@dataclass(frozen=True)
class NoticePolicy:
    lease_seconds: float  # one attempt's whole budget, plus a margin
    initial_seconds: float
    max_seconds: float
    window_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> NoticePolicy:
        return cls(
            lease_seconds=settings.app_webhook_timeout_seconds + 2,
            initial_seconds=settings.app_webhook_retry_initial_seconds,
            max_seconds=settings.app_webhook_retry_max_seconds,
            window_seconds=settings.app_webhook_retry_window_hours * 3600,
        )


@dataclass(frozen=True)
class Claim:
    """The newest notice of a workspace, leased to this attempt."""

    notice_id: str
    workspace_id: uuid.UUID
    version: int
    token: uuid.UUID
    body: bytes


@dataclass(frozen=True)
class NoClaim:
    outcome: DeliverOutcome  # idle, not_due or busy
    retry_in_seconds: float = 0.0
    notice_id: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class Recorded:
    outcome: DeliverOutcome  # delivered, retry, failed, or busy (the lease was lost)
    retry_in_seconds: float = 0.0
    lag_seconds: float | None = None


async def claim_newest(
    session: AsyncSession, workspace_id: uuid.UUID, policy: NoticePolicy
) -> Claim | NoClaim:
    """Lease the workspace's newest pending notice when it is due, superseding older ones."""
    await session.execute(_LOCK, {"w": str(workspace_id)})
    remaining = (await session.execute(_LEASED, {"w": workspace_id})).scalar_one_or_none()
    if remaining is not None:
        return NoClaim(DeliverOutcome.BUSY, float(remaining))
    newest = (await session.execute(_NEWEST, {"w": workspace_id})).first()
    if newest is None:
        return NoClaim(DeliverOutcome.IDLE)
    if newest.delivered is not None and newest.delivered >= newest.version:
        # A newer version already reached the receiver: this one must never follow it.
        await session.execute(_SUPERSEDE, {"w": workspace_id, "v": newest.version})
        return NoClaim(DeliverOutcome.IDLE)
    await session.execute(_SUPERSEDE, {"w": workspace_id, "v": newest.version - 1})
    if float(newest.wait) > 0:
        return NoClaim(DeliverOutcome.NOT_DUE, float(newest.wait), newest.id, newest.version)
    token = uuid.uuid4()
    await session.execute(
        _LEASE, {"token": token, "seconds": policy.lease_seconds, "id": newest.id}
    )
    body = await notice_body(session, workspace_id, newest.version)
    return Claim(newest.id, workspace_id, newest.version, token, body)


async def record_delivered(session: AsyncSession, claim: Claim, http_status: int) -> Recorded:
    found = (
        await session.execute(
            _DELIVERED, {"id": claim.notice_id, "token": claim.token, "code": http_status}
        )
    ).first()
    if found is None:
        return Recorded(DeliverOutcome.BUSY)  # the lease ran out; another attempt owns it
    return Recorded(DeliverOutcome.DELIVERED, lag_seconds=float(found.lag))


async def record_failed(
    session: AsyncSession,
    claim: Claim,
    policy: NoticePolicy,
    error: str,
    http_status: int | None,
) -> Recorded:
    found = (
        await session.execute(
            _FAILED,
            {
                "id": claim.notice_id,
                "token": claim.token,
                "error": error[:MAX_ERROR_LENGTH],
                "code": http_status,
                "window": policy.window_seconds,
                "initial": policy.initial_seconds,
                "cap": policy.max_seconds,
            },
        )
    ).first()
    if found is None:
        return Recorded(DeliverOutcome.BUSY)
    if found.status == "failed":
        return Recorded(DeliverOutcome.FAILED)
    return Recorded(DeliverOutcome.RETRY, max(0.0, float(found.retry_in)))


async def notice_body(session: AsyncSession, workspace_id: uuid.UUID, version: int) -> bytes:
    """The JSON body of a version's notice; the same bytes on every attempt but the
    signature's time, so a redelivery is the same notice."""
    row = (await session.execute(_SNAPSHOT, {"w": workspace_id, "v": version})).one()
    body = EntitlementNoticeBody(
        id=notice_id(workspace_id, version),
        workspace_id=str(workspace_id),
        version=version,
        previous_version=row.previous_version,
        entitlements=public_from_row(workspace_id, row),
    )
    return body.model_dump_json().encode()


# --- The sweep and operators ---------------------------------------------------------------

_OVERDUE = text(
    "SELECT DISTINCT workspace_id FROM entitlement_notices "
    "WHERE status = 'pending' AND next_attempt_at <= now() - make_interval(secs => :slack) "
    "AND (lease_until IS NULL OR lease_until < now()) "
    "AND (CAST(:after AS uuid) IS NULL OR workspace_id > CAST(:after AS uuid)) "
    "ORDER BY workspace_id LIMIT :limit"
)


async def overdue_workspaces(
    session: AsyncSession, after: str | None, limit: int, slack_seconds: float
) -> list[str]:
    """Workspaces with a pending notice nobody attempted `slack_seconds` after it was due:
    their drainer is gone (a lost wake, a crash) and must be woken."""
    rows = await session.execute(_OVERDUE, {"slack": slack_seconds, "after": after, "limit": limit})
    return [str(row.workspace_id) for row in rows]


async def list_notices(
    session: AsyncSession, *, failed_only: bool, workspace_id: uuid.UUID | None, limit: int
) -> list[Any]:
    """The delivery log, newest first."""
    rows = await session.execute(
        text(
            "SELECT id, workspace_id, version, status, attempts, last_error, last_http_status, "
            "created_at, last_attempt_at, next_attempt_at, delivered_at FROM entitlement_notices "
            "WHERE (NOT :failed OR status = 'failed') "
            "AND (CAST(:w AS uuid) IS NULL OR workspace_id = CAST(:w AS uuid)) "
            "ORDER BY created_at DESC, version DESC LIMIT :limit"
        ),
        {"failed": failed_only, "w": workspace_id, "limit": limit},
    )
    return list(rows)


class ResendRefused(Exception):
    """The notice cannot be sent again; the message says why and what to do."""


async def requeue(session: AsyncSession, notice: str) -> uuid.UUID:
    """Send a notice again with a fresh retry window; its workspace. Only the workspace's
    newest version may be resent: an older one could reach the receiver after a newer."""
    row = (
        await session.execute(
            text(
                "SELECT n.workspace_id, n.version, (SELECT max(version) FROM "
                "workspace_entitlements e WHERE e.workspace_id = n.workspace_id) AS newest "
                "FROM entitlement_notices n WHERE n.id = :id"
            ),
            {"id": notice},
        )
    ).first()
    if row is None:
        raise ResendRefused(f"no notice {notice}")
    if row.version < row.newest:
        raise ResendRefused(
            f"{notice} is superseded by version {row.newest}; resend "
            f"{notice_id(row.workspace_id, row.newest)} (receivers must never see an older "
            "version after a newer one)"
        )
    await session.execute(_LOCK, {"w": str(row.workspace_id)})
    await session.execute(
        text(
            "UPDATE entitlement_notices SET status = 'pending', next_attempt_at = now(), "
            "window_started_at = now() WHERE id = :id"
        ),
        {"id": notice},
    )
    workspace_id: uuid.UUID = row.workspace_id
    return workspace_id
