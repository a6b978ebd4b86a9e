"""What support and operators read of the event ledger: a workspace's events (the trace),
and the rows not yet final (`billing events`, the admin routes)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from ledger.events import UNFINISHED

_OF_WORKSPACE = text(
    """
    SELECT id, type, status, reason, attempts, last_error, source, stripe_created_at,
           received_at, processed_at, stripe_object_id
    FROM stripe_webhook_events
    WHERE workspace_id = :w
       OR stripe_object_id = ANY(:objects)
       OR payload #>> '{data,object,customer}' = ANY(:customers)
       OR payload #>> '{data,object,subscription}' = ANY(:objects)
       OR payload #>> '{data,object,client_reference_id}' = :ws
       OR payload #>> '{data,object,metadata,workspace_id}' = :ws
    ORDER BY received_at, id
    LIMIT :limit
    """
)
# Operators: unfinished rows, filtered; a workspace matches as in the support trace.
_UNFINISHED = text(
    """
    SELECT id, type, status, attempts, last_error, source, received_at, next_attempt_at,
           workspace_id
    FROM stripe_webhook_events e
    WHERE status = ANY(:statuses)
      AND (CAST(:type AS text) IS NULL OR type = CAST(:type AS text))
      AND (CAST(:w AS uuid) IS NULL
           OR workspace_id = CAST(:w AS uuid)
           OR payload #>> '{data,object,client_reference_id}' = CAST(:w AS text)
           OR payload #>> '{data,object,metadata,workspace_id}' = CAST(:w AS text)
           OR payload #>> '{data,object,customer}' IN (
               SELECT stripe_customer_id FROM workspace_billing_customers
               WHERE workspace_id = CAST(:w AS uuid))
           OR stripe_object_id IN (
               SELECT stripe_subscription_id FROM subscriptions
               WHERE workspace_id = CAST(:w AS uuid) AND stripe_subscription_id IS NOT NULL))
    ORDER BY received_at, id
    LIMIT :limit
    """
)

async def of_workspace(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    objects: set[str],
    customers: set[str],
    limit: int,
) -> list[Any]:
    """Every event of a workspace or its Stripe objects, oldest first (the support trace)."""
    params = {
        "w": workspace_id,
        "ws": str(workspace_id),
        "objects": sorted(objects | customers),
        "customers": sorted(customers),
        "limit": limit,
    }
    return list((await session.execute(_OF_WORKSPACE, params)).all())


async def unfinished(
    session: AsyncSession,
    statuses: Sequence[str] = UNFINISHED,
    *,
    event_type: str | None = None,
    workspace_id: uuid.UUID | None = None,
    limit: int = 500,
) -> list[Any]:
    """Rows not completed or ignored, oldest first, for operators."""
    params = {"statuses": list(statuses), "type": event_type, "w": workspace_id, "limit": limit}
    return list((await session.execute(_UNFINISHED, params)).all())
