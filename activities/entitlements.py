"""Catalog re-derive activity: workspaces entitled through a changed variant get a new version."""

from __future__ import annotations

from temporalio import activity

from activities.deps import ActivityDeps
from core.db import transaction
from models.entitlement_payloads import ACTIVITY_REDERIVE, RederiveInput, RederiveResult
from rules.catalog_entitlements import rederive, stale_workspaces
from rules.entitlements import committed_versions


class EntitlementActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._settings = deps.settings
        self._sessions = deps.sessions

    @activity.defn(name=ACTIVITY_REDERIVE)
    async def rederive_batch(self, data: RederiveInput) -> RederiveResult:
        """One keyset page of stale workspaces, one short transaction each (each takes only
        its own workspace's lock, never holding many at once)."""
        limit = self._settings.entitlement_rederive_batch_size
        async with transaction(self._sessions) as session:
            stale = await stale_workspaces(session, data.after_workspace_id, limit)
        versions = 0
        for workspace_id in stale:
            async with transaction(self._sessions) as session:
                await rederive(session, workspace_id)
            versions += len(committed_versions(session))
            activity.heartbeat(str(workspace_id))
        return RederiveResult(
            examined=len(stale),
            versions=versions,
            has_more=len(stale) == limit,
            last_workspace_id=str(stale[-1]) if stale else None,
            pause_seconds=self._settings.entitlement_rederive_pause_seconds,
        )
