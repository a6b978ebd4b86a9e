"""The workflow classes one worker serves."""

from __future__ import annotations

from workflows.catalog_sync import CatalogSyncWorkflow
from workflows.checkout import CheckoutWorkflow
from workflows.portal import PortalWorkflow
from workflows.stripe_event import StripeEventWorkflow

WORKFLOWS: list[type] = [CheckoutWorkflow, PortalWorkflow, CatalogSyncWorkflow, StripeEventWorkflow]
