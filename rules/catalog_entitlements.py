"""Catalog changes follow through: workspaces entitled through a variant whose grants or
gating bundle no longer match their newest entitlements version get a new one.

Found by comparison, not by remembering what a sync changed, so a run that crashed half way,
a sync forced by checkout, or a workspace never snapshotted is caught by the next run.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from rules.locks import lock_workspace
from rules.subscription_state import ENTITLED, refresh_entitlements

CAUSE = "catalog_sync"

_STALE = text(
    "SELECT s.workspace_id FROM subscriptions s "
    "JOIN plan_variants pv ON pv.stripe_price_id = s.stripe_price_id "
    "LEFT JOIN LATERAL (SELECT e.grants, e.gating_bundle FROM workspace_entitlements e "
    " WHERE e.workspace_id = s.workspace_id ORDER BY e.version DESC LIMIT 1) e ON true "
    "WHERE s.status = ANY(:entitled) AND s.stripe_subscription_id IS NOT NULL "
    "AND (e.grants IS DISTINCT FROM pv.grants "
    " OR e.gating_bundle IS DISTINCT FROM pv.gating_bundle) "
    "AND (CAST(:after AS uuid) IS NULL OR s.workspace_id > CAST(:after AS uuid)) "
    "ORDER BY s.workspace_id LIMIT :limit"
)


async def stale_workspaces(session: AsyncSession, after: str | None, limit: int) -> list[uuid.UUID]:
    """One keyset page of workspaces whose paid variant grants other than their snapshot."""
    rows = await session.execute(_STALE, {"entitled": ENTITLED, "after": after, "limit": limit})
    return [row.workspace_id for row in rows]


async def rederive(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    """Re-derive grants and the snapshot from the catalog, under the workspace's billing
    lock (in the caller's transaction); False when the workspace is gone."""
    if not await lock_workspace(session, workspace_id):
        return False
    await refresh_entitlements(session, workspace_id, cause=CAUSE)
    return True
