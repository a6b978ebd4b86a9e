"""Versioned entitlement snapshots: what a workspace may do, and until when.

Every plan, grant or grace change of a workspace marks it (`mark_changed`); right before the
transaction commits, its snapshot is computed from the rows as they now stand and, only when
the content differs from the newest version, written as the next version together with its
outbox row (`entitlement_notices`) and a `NOTIFY billing_entitlements` — all in the same
transaction as the change. Versions are written under the workspace's billing lock, which
every writer holds, so they increase strictly and without gaps.

A workspace with no version yet reads as the free plan at version 0 (`FREE`); reaching that
same content again writes nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import AFTER_COMMIT, BEFORE_COMMIT, defer
from core.metrics import ENTITLEMENT_VERSIONS
from core.notice_wake import CommittedVersion, wake_committed
from models.entitlements import notice_id
from models.vocabulary import ENTITLED_STATUSES, Plan, SubscriptionStatus

CHANNEL = "billing_entitlements"
_DIRTY = "entitlements_dirty"
# The versions this session committed (kept on the session after it closes).
COMMITTED = "entitlements_committed"

_INSERT = text(
    "INSERT INTO workspace_entitlements (workspace_id, version, previous_version, plan, "
    "interval, status, grants, gating_bundle, effective_until, in_grace, cause) VALUES "
    "(:w, :version, :previous, :plan, :interval, :status, CAST(:grants AS jsonb), :bundle, "
    ":until, :grace, :cause)"
)
_OUTBOX = text(
    "INSERT INTO entitlement_notices (id, workspace_id, version) VALUES (:id, :w, :version)"
)
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")
# What `write_snapshot` compares, in one round trip: the entitled row, the grants and the
# newest version (each column NULL when there is none).
_NOW_AND_LATEST = text(
    """
    SELECT e.plan_slug, e.interval, e.status, e.stripe_subscription_id,
           e.cancel_at_period_end, e.current_period_end, e.grace_period_end, e.gating_bundle,
           g.grants,
           v.version, v.plan AS v_plan, v.interval AS v_interval, v.status AS v_status,
           v.grants AS v_grants, v.gating_bundle AS v_gating_bundle,
           v.effective_until AS v_effective_until, v.in_grace AS v_in_grace
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT s.plan_slug, s.interval, s.status, s.stripe_subscription_id,
               s.cancel_at_period_end, s.current_period_end, s.grace_period_end, pv.gating_bundle
        FROM subscriptions s
        LEFT JOIN plan_variants pv ON pv.stripe_price_id = s.stripe_price_id
        WHERE s.workspace_id = :w AND s.status = ANY(:entitled) LIMIT 1
    ) AS e ON true
    LEFT JOIN LATERAL (
        SELECT jsonb_object_agg(grant_program_code, value) AS grants
        FROM workspace_grants WHERE workspace_id = :w
    ) AS g ON true
    LEFT JOIN LATERAL (
        SELECT version, plan, interval, status, grants, gating_bundle, effective_until, in_grace
        FROM workspace_entitlements WHERE workspace_id = :w ORDER BY version DESC LIMIT 1
    ) AS v ON true
    """
)


@dataclass(frozen=True)
class Snapshot:
    """The content of a version: what decides whether a change is a new version."""

    plan: str
    interval: str | None
    status: str
    grants: dict[str, Any] = field(default_factory=dict)
    gating_bundle: str | None = None
    effective_until: datetime | None = None
    in_grace: bool = False


FREE = Snapshot(plan=Plan.FREE, interval=None, status=SubscriptionStatus.ACTIVE)


def validity(
    *,
    paid: bool,
    cancel_at_period_end: bool,
    current_period_end: datetime | None,
    grace_period_end: datetime | None,
) -> tuple[datetime | None, bool]:
    """(effective_until, in_grace): None while a subscription renews and on the free plan;
    the period end once it is set to cancel; the grace end while a failed payment is retried
    (the earlier of the two when both apply)."""
    if not paid:
        return None, False
    ends = [grace_period_end] if grace_period_end is not None else []
    if cancel_at_period_end and current_period_end is not None:
        ends.append(current_period_end)
    return (min(ends) if ends else None), grace_period_end is not None


def _snapshot(row: Any, grants: dict[str, Any]) -> Snapshot:
    """A snapshot from the entitled row's columns (`row.plan_slug` None: no entitled row)."""
    if row is None or row.plan_slug is None:
        return Snapshot(FREE.plan, None, FREE.status, grants)
    paid = row.stripe_subscription_id is not None
    until, in_grace = validity(
        paid=paid,
        cancel_at_period_end=bool(row.cancel_at_period_end),
        current_period_end=row.current_period_end,
        grace_period_end=row.grace_period_end,
    )
    return Snapshot(
        plan=row.plan_slug,
        interval=row.interval if paid else None,
        status=row.status,
        grants=grants,
        gating_bundle=row.gating_bundle if paid else None,
        effective_until=until,
        in_grace=in_grace,
    )


async def _now_and_latest(
    session: AsyncSession, workspace_id: uuid.UUID
) -> tuple[Snapshot, int, Snapshot]:
    """(the snapshot the rows say now, the newest version, its content) in one round trip."""
    entitled = list(ENTITLED_STATUSES)
    row = (
        await session.execute(_NOW_AND_LATEST, {"w": workspace_id, "entitled": entitled})
    ).one()
    current = _snapshot(row, dict(row.grants or {}))
    if row.version is None:
        return current, 0, FREE
    return current, row.version, Snapshot(
        plan=row.v_plan,
        interval=row.v_interval,
        status=row.v_status,
        grants=dict(row.v_grants or {}),
        gating_bundle=row.v_gating_bundle,
        effective_until=row.v_effective_until,
        in_grace=row.v_in_grace,
    )


async def write_snapshot(session: AsyncSession, workspace_id: uuid.UUID, cause: str) -> int | None:
    """Write the next version when the content changed; its number, or None. The caller
    holds the workspace's billing lock."""
    current, version, previous = await _now_and_latest(session, workspace_id)
    if current == previous:
        return None
    new = version + 1
    # Nothing reads them back in this transaction: they go out with the commit.
    await defer(
        session,
        _INSERT,
        {
            "w": workspace_id,
            "version": new,
            "previous": version or None,
            "plan": current.plan,
            "interval": current.interval,
            "status": current.status,
            "grants": json.dumps(current.grants),
            "bundle": current.gating_bundle,
            "until": current.effective_until,
            "grace": current.in_grace,
            "cause": cause,
        },
    )
    await defer(
        session, _OUTBOX, {"id": notice_id(workspace_id, new), "w": workspace_id, "version": new}
    )
    payload = json.dumps({"workspace_id": str(workspace_id), "version": new})
    await defer(session, _NOTIFY, {"channel": CHANNEL, "payload": payload})
    return new


def mark_changed(session: AsyncSession, workspace_id: uuid.UUID, cause: str | None = None) -> None:
    """The workspace's plan, grants or grace may have changed in this transaction: its
    snapshot is re-computed right before the commit. The first cause named wins (an event's
    id over the follow-up steps of the same apply)."""
    dirty: dict[uuid.UUID, str | None] | None = session.info.get(_DIRTY)
    if dirty is None:
        dirty = session.info[_DIRTY] = {}
        hooks = session.info.setdefault(BEFORE_COMMIT, [])
        # First among the hooks: billing rows before the main application's `workspaces` row.
        hooks.insert(0, _write_marked)
    dirty[workspace_id] = dirty.get(workspace_id) or cause


async def _write_marked(session: AsyncSession) -> None:
    dirty: dict[uuid.UUID, str | None] = session.info.pop(_DIRTY, {})
    written: list[tuple[CommittedVersion, str]] = []
    for workspace_id, cause in sorted(dirty.items()):  # one order: no deadlock between writers
        version = await write_snapshot(session, workspace_id, cause or "refresh")
        if version is not None:
            written.append((CommittedVersion(str(workspace_id), version), cause or "refresh"))
    if written:
        session.info.setdefault(AFTER_COMMIT, []).append(partial(_committed, session, written))


async def _committed(session: AsyncSession, written: list[tuple[CommittedVersion, str]]) -> None:
    session.info.setdefault(COMMITTED, []).extend(change for change, _ in written)
    for _, cause in written:
        ENTITLEMENT_VERSIONS.labels("event" if cause.startswith("evt_") else cause).inc()
    await wake_committed([change for change, _ in written])


def committed_versions(session: AsyncSession) -> list[CommittedVersion]:
    """The versions this session wrote (read after its transaction committed)."""
    found: list[CommittedVersion] = session.info.get(COMMITTED, [])
    return found
