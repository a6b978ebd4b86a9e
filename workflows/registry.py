"""The workflow classes one worker serves."""

from __future__ import annotations

from workflows.catalog_sync import CatalogSyncWorkflow
from workflows.checkout import CheckoutWorkflow
from workflows.checkout_reconcile import CheckoutReconcileWorkflow
from workflows.cleanup import CleanupWorkflow
from workflows.entitlement_notices import EntitlementNoticesWorkflow
from workflows.entitlement_sweep import EntitlementNoticeSweepWorkflow
from workflows.grace import GraceDowngradeWorkflow
from workflows.portal import PortalWorkflow
from workflows.replay import ReplayWorkflow
from workflows.stripe_event import StripeEventWorkflow

WORKFLOWS: list[type] = [CheckoutWorkflow, PortalWorkflow, CatalogSyncWorkflow, StripeEventWorkflow]
WORKFLOWS += [ReplayWorkflow, GraceDowngradeWorkflow, CleanupWorkflow]
WORKFLOWS += [CheckoutReconcileWorkflow]
WORKFLOWS += [EntitlementNoticesWorkflow, EntitlementNoticeSweepWorkflow]
