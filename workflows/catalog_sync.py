"""CatalogSyncWorkflow: Stripe's self-serve prices → `plan_variants` (manual route or schedule),
then workspaces entitled through a variant whose grants changed get a new entitlements version."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities
    from activities.entitlements import EntitlementActivities
    from models.catalog_payloads import CatalogSyncInput, CatalogSyncSummary
    from models.checkout_payloads import STRIPE_REQUEST_REFUSED
    from models.entitlement_payloads import RederiveInput

REDERIVE_PATCH = "entitlements-rederive"
SYNC_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=[STRIPE_REQUEST_REFUSED],
)


@workflow.defn(name="CatalogSyncWorkflow")
class CatalogSyncWorkflow:
    @workflow.run
    async def run(self, data: CatalogSyncInput | None = None) -> CatalogSyncSummary:
        # Input optional: the `billing-catalog-sync` schedule starts it with no arguments.
        summary = await workflow.execute_activity_method(
            CatalogActivities.sync_catalog,
            data or CatalogSyncInput(),
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=SYNC_RETRY,
        )
        # Histories recorded before entitlements ended here.
        if workflow.patched(REDERIVE_PATCH):
            summary.entitlements_updated = await self._rederive()
        return summary

    async def _rederive(self) -> int:
        """Paced batches: each a keyset page of stale workspaces, then a pause."""
        versions = 0
        after: str | None = None
        while True:
            batch = await workflow.execute_activity_method(
                EntitlementActivities.rederive_batch,
                RederiveInput(after_workspace_id=after),
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
            )
            versions += batch.versions
            if not batch.has_more:
                return versions
            after = batch.last_workspace_id
            if batch.pause_seconds > 0:
                await workflow.sleep(timedelta(seconds=batch.pause_seconds))
