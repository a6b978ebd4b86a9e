"""Reading entitlements: the newest committed version of a workspace, and one grant's answer.

A read is one round trip to PostgreSQL and nothing else (no Stripe, no Temporal): for a member
one statement answers both "may this caller read it" and "what is it"; for the service token
it is one index lookup of the newest row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from models.entitlements import EntitlementsPublic, GrantAnswerPublic
from models.vocabulary import GrantReason
from rules.entitlements import FREE

# The service reads any workspace: the newest row alone (a row implies the workspace, its
# foreign key cascades), and only without one is the workspace's existence asked.
_NEWEST = text(
    "SELECT version, plan, interval, status, grants, gating_bundle, effective_until, in_grace, "
    "cause, computed_at FROM workspace_entitlements WHERE workspace_id = :w "
    "ORDER BY version DESC LIMIT 1"
)
_EXISTS = text("SELECT 1 FROM workspaces WHERE id = :w")
# A member's read checks the membership in the same round trip.
_READ = text(
    "SELECT m.role, e.version, e.plan, e.interval, e.status, e.grants, e.gating_bundle, "
    "e.effective_until, e.in_grace, e.cause, e.computed_at "
    "FROM workspaces w "
    "LEFT JOIN workspace_members m ON m.workspace_id = w.id AND m.user_id = CAST(:u AS uuid) "
    "LEFT JOIN LATERAL (SELECT * FROM workspace_entitlements x WHERE x.workspace_id = w.id "
    "ORDER BY x.version DESC LIMIT 1) e ON true "
    "WHERE w.id = :w"
)


@dataclass(frozen=True)
class Reader:
    """Who reads: a member (by user id) or the main application's back end (service)."""

    user_id: uuid.UUID | None = None
    service: bool = False


async def read_entitlements(
    session: AsyncSession, workspace_id: uuid.UUID, reader: Reader
) -> EntitlementsPublic | None:
    """The newest version, or None when the workspace does not exist or the caller is not
    one of its members (the same answer, so ids cannot be probed). A workspace that never
    had a version reads as the free plan at version 0."""
    if reader.service:
        row = (await session.execute(_NEWEST, {"w": workspace_id})).first()
        if row is None and (await session.execute(_EXISTS, {"w": workspace_id})).first() is None:
            return None
    else:
        row = (await session.execute(_READ, {"w": workspace_id, "u": reader.user_id})).first()
        if row is None or row.role is None:
            return None
    if row is None or row.version is None:
        return EntitlementsPublic(
            workspace_id=str(workspace_id),
            version=0,
            plan=FREE.plan,
            interval=None,
            status=FREE.status,
            grants={},
            gating_bundle=None,
            effective_until=None,
            in_grace=False,
            cause=None,
            computed_at=None,
        )
    return public_from_row(workspace_id, row)


def public_from_row(workspace_id: uuid.UUID, row: Any) -> EntitlementsPublic:
    """A `workspace_entitlements` row as the read route and the notices show it."""
    return EntitlementsPublic(
        workspace_id=str(workspace_id),
        version=row.version,
        plan=row.plan,
        interval=row.interval,
        status=row.status,
        grants=dict(row.grants or {}),
        gating_bundle=row.gating_bundle,
        effective_until=row.effective_until,
        in_grace=row.in_grace,
        cause=row.cause,
        computed_at=row.computed_at,
    )


def answer_grant(entitlements: EntitlementsPublic, grant_code: str) -> GrantAnswerPublic:
    """A grant the plan holds with a value other than false/null is allowed until
    `effective_until` (`grace` while a failed payment is retried); anything else — a code
    the plan lacks, an unknown code, a paid code on the free plan — is `not_in_plan`."""
    value = entitlements.grants.get(grant_code)
    if value is None or value is False:
        return GrantAnswerPublic(
            allowed=False, value=value, reason=GrantReason.NOT_IN_PLAN, until=None
        )
    reason = GrantReason.GRACE if entitlements.in_grace else GrantReason.GRANTED
    return GrantAnswerPublic(
        allowed=True, value=value, reason=reason, until=entitlements.effective_until
    )
