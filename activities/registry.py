"""The activities one worker serves, bound to their injected clients."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from activities.catalog import CatalogActivities
from activities.checkout import CheckoutActivities
from activities.checkout_reconcile import CheckoutReconcileActivities
from activities.cleanup import CleanupActivities
from activities.customers import CustomerActivities
from activities.deps import ActivityDeps
from activities.entitlement_notices import EntitlementNoticeActivities
from activities.entitlements import EntitlementActivities
from activities.grace import GraceActivities
from activities.portal import PortalActivities
from activities.reconcile import ReconcileActivities
from activities.replay import ReplayActivities
from activities.replay_events import EventsReconcileActivities
from activities.stripe_events import StripeEventActivities


def build_activities(deps: ActivityDeps) -> Sequence[Callable[..., Any]]:
    """Instantiate each activity class once and return its bound activity methods."""
    customers = CustomerActivities(deps)
    checkout = CheckoutActivities(deps)
    portal = PortalActivities(deps)
    catalog = CatalogActivities(deps)
    events = StripeEventActivities(deps)
    replay = ReplayActivities(deps)
    events_reconcile = EventsReconcileActivities(deps)
    reconcile = ReconcileActivities(deps)
    grace = GraceActivities(deps)
    cleanup = CleanupActivities(deps)
    checkout_reconcile = CheckoutReconcileActivities(deps)
    notices = EntitlementNoticeActivities(deps)
    entitlements = EntitlementActivities(deps)
    return [
        customers.ensure_customer,
        checkout.load_context,
        checkout.create_session,
        checkout.record,
        portal.create_session,
        catalog.sync_catalog,
        events.claim_event,
        events.apply_event,
        events.process_event,
        events.fail_event,
        replay.due_events,
        replay.dispatch,
        events_reconcile.reconcile_events,
        reconcile.reconcile_objects,
        grace.downgrade_batch,
        cleanup.delete_batch,
        checkout_reconcile.reconcile_session,
        notices.deliver_newest,
        notices.sweep_notices,
        entitlements.rederive_batch,
    ]
