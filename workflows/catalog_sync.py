"""CatalogSyncWorkflow: Stripe's self-serve prices → `plan_variants` (manual route or schedule)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities
    from models.catalog_payloads import CatalogSyncInput, CatalogSyncSummary
    from models.checkout_payloads import STRIPE_REQUEST_REFUSED

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
        return await workflow.execute_activity_method(
            CatalogActivities.sync_catalog,
            data or CatalogSyncInput(),
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=SYNC_RETRY,
        )
