"""The workspace's billing lock, and the one write to the main application's `workspaces` row.

Lock order, for every billing transaction of a workspace:
1. `lock_workspace`: a transaction-scoped advisory lock this service owns
   (`billing-workspace:{id}`), taken first — checkouts, event applies, reconcile, grace and
   customer repairs of one workspace are serialized by it and never deadlock. It locks no
   row of the main application, so a slow Stripe call under it blocks only billing work.
2. Billing rows (subscriptions, items, grants, checkout sessions, the ledger).
3. `workspaces.plan`, written once by `set_workspace_plan` just before the commit: the main
   application's row is locked only for that short final UPDATE, never across a Stripe call.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.sql.elements import TextClause
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import BEFORE_COMMIT, defer

# The workspace a query of our rows finds, locked, and whether it is still there — one
# statement, one round trip. The lock is taken before the existence is read (a volatile
# lateral subquery is never folded away); its key spells the UUID as Python's `str` does.
_LOCK_FOUND = (
    "SELECT o.workspace_id, EXISTS (SELECT 1 FROM workspaces w WHERE w.id = o.workspace_id) "
    "AS present FROM ({query}) AS o CROSS JOIN LATERAL (SELECT pg_advisory_xact_lock("
    "hashtextextended('billing-workspace:' || o.workspace_id::text, 0))) AS locked"
)
# `lock_workspace`: the workspace is the one given.
_GIVEN = "SELECT CAST(:id AS uuid) AS workspace_id"
_LOCK_FOUND_BY: dict[str, TextClause] = {}
_SET_PLAN = text(
    "UPDATE workspaces SET plan = :plan WHERE id = :w AND plan IS DISTINCT FROM :plan"
)
_PLANS = "workspace_plans"


async def lock_workspace(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    """Take the workspace's billing lock until the transaction ends; False if the workspace
    does not exist (it may have been deleted by the main application). One round trip."""
    found = await lock_workspace_found_by(session, _GIVEN, {"id": workspace_id})
    return found is not None and found[1]


async def lock_workspace_found_by(
    session: AsyncSession, query: str, params: dict[str, Any]
) -> tuple[uuid.UUID, bool] | None:
    """The billing lock of the workspace `query` (one `workspace_id` row at most) finds in
    our rows, in the same round trip: (workspace, still there), or None when it finds none."""
    statement = _LOCK_FOUND_BY.get(query)
    if statement is None:
        statement = _LOCK_FOUND_BY[query] = text(_LOCK_FOUND.format(query=query))
    row = (await session.execute(statement, params)).first()
    return None if row is None else (row.workspace_id, bool(row.present))


def set_workspace_plan(session: AsyncSession, workspace_id: uuid.UUID, plan: str) -> None:
    """Record the plan; the UPDATE of `workspaces` runs once, last, before the commit."""
    plans: dict[uuid.UUID, str] | None = session.info.get(_PLANS)
    if plans is None:
        plans = session.info[_PLANS] = {}
        hooks: list[Callable[[AsyncSession], Awaitable[None]]] = session.info.setdefault(
            BEFORE_COMMIT, []
        )
        hooks.append(_write_plans)
    plans[workspace_id] = plan


async def _write_plans(session: AsyncSession) -> None:
    plans: dict[uuid.UUID, str] = session.info.pop(_PLANS, {})
    for workspace_id, plan in sorted(plans.items()):  # one order: no deadlock between writers
        await defer(session, _SET_PLAN, {"w": workspace_id, "plan": plan})
