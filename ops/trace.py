"""Support trace: a workspace's purchases as one timeline, from checkout to the final plan.

Reads our tables (idempotency keys, checkout sessions, customer mapping and its audit, every
Stripe event of the workspace with status, attempts and error, subscription rows, the plan)
and Temporal visibility (every workflow tagged with the workspace or its Stripe ids, with its
Temporal UI link), then orders all steps oldest first with the time since the previous step
and since the first checkout. `billing trace --workspace ID` prints it; the admin route
`GET .../workspaces/{id}/trace` returns it as JSON.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from core.config import Settings
from core.temporal_connection import namespace_of
from ledger import lookups
from models.trace_payloads import TraceStep, WorkspaceTrace
from models.vocabulary import LedgerStatus

MAX_WORKFLOWS = 500
MAX_EVENTS = 1000
ERROR_CHARS = 300
CHECKOUT_KINDS = ("checkout_key", "checkout_session")
# Among steps at the same instant, causes before effects.
KIND_ORDER = {
    "checkout_key": 0,
    "customer_validated": 1,
    "customer_invalidated": 1,
    "customer_recreated": 2,
    "customer_mapped": 3,
    "checkout_session": 4,
    "workflow": 5,
    "stripe_event": 6,
    "subscription": 7,
    "checkout_reconcile": 8,
    "checkout_confirmed": 9,
    "checkout_expired": 9,
    "customer_webhook_deleted": 9,
    "plan": 10,
}

class WorkspaceNotFound(LookupError):
    """The workspace does not exist."""


def _ui_base(settings: Settings) -> str:
    return f"{settings.temporal_ui_url.rstrip('/')}/namespaces/{namespace_of(settings)}"


def workflow_link(settings: Settings, workflow_id: str, run_id: str | None) -> str:
    base = _ui_base(settings)
    return f"{base}/workflows/{quote(workflow_id, safe=':')}/{run_id or ''}".rstrip("/")


def visibility_query(workspace_id: str, customers: Iterable[str], sessions: Iterable[str]) -> str:
    """Every workflow of the workspace; Stripe ids catch runs that failed before resolving it."""
    clauses = [f'WorkspaceId = "{workspace_id}"']
    for key, values in (("StripeCustomerId", customers), ("StripeCheckoutSessionId", sessions)):
        safe = sorted({v for v in values if v and v.replace("_", "").isalnum()})
        if safe:
            clauses.append(f"{key} IN ({', '.join(repr(v) for v in safe)})")
    return " OR ".join(clauses)


async def _rows(session: AsyncSession, sql: str, **params: Any) -> list[Any]:
    return list((await session.execute(text(sql), params)).all())


def _short(error: str | None) -> str | None:
    return error if error is None or len(error) <= ERROR_CHARS else error[:ERROR_CHARS] + "…"


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


class _Steps:
    def __init__(self) -> None:
        self.items: list[TraceStep] = []

    def add(self, at: datetime | None, kind: str, summary: str, **details: Any) -> None:
        if at is None:
            return
        link = details.pop("link", None)
        clean = {k: v for k, v in details.items() if v is not None}
        self.items.append(TraceStep(at=at, kind=kind, summary=summary, link=link, details=clean))


async def _database_steps(
    session: AsyncSession, workspace_id: uuid.UUID, steps: _Steps
) -> tuple[Any, set[str], set[str]]:
    """Add the DB steps; return the workspace row and its customer and session ids."""
    found = await _rows(session, "SELECT name, plan FROM workspaces WHERE id = :w", w=workspace_id)
    if not found:
        raise WorkspaceNotFound(str(workspace_id))
    customers: set[str] = set()
    sessions: set[str] = set()
    objects: set[str] = set()
    for key in await _rows(
        session,
        "SELECT idempotency_key, checkout_session_id, created_at, expires_at "
        "FROM stripe_checkout_idempotency WHERE workspace_id = :w",
        w=workspace_id,
    ):
        answer = f"session {key.checkout_session_id}" if key.checkout_session_id else "no answer"
        steps.add(
            key.created_at, "checkout_key",
            f"Idempotency-Key {key.idempotency_key} claimed → {answer}",
            idempotency_key=str(key.idempotency_key), expires_at=key.expires_at,
        )
    for cs in await _rows(
        session,
        "SELECT id, idempotency_key, stripe_customer_id, plan_slug, interval, stripe_price_id, "
        "status, stripe_subscription_id, created_at, finalized_at, reconcile_requested_at, "
        "expires_at FROM checkout_sessions WHERE workspace_id = :w",
        w=workspace_id,
    ):
        sessions.add(cs.id)
        customers.update(c for c in (cs.stripe_customer_id,) if c)
        objects.update(o for o in (cs.id, cs.stripe_subscription_id) if o)
        steps.add(
            cs.created_at, "checkout_session",
            f"checkout session {cs.id} created: {cs.plan_slug} {cs.interval}, "
            f"customer {cs.stripe_customer_id}, now {cs.status}",
            session_id=cs.id, idempotency_key=str(cs.idempotency_key or "") or None,
            price=cs.stripe_price_id, status=cs.status, expires_at=cs.expires_at,
        )
        steps.add(
            cs.reconcile_requested_at, "checkout_reconcile",
            f"checkout session {cs.id} pending too long: reconcile from Stripe requested",
            session_id=cs.id,
        )
        if cs.status in ("confirmed", "expired"):
            confirmed = cs.status == "confirmed"
            target = f" → subscription {cs.stripe_subscription_id}" if confirmed else ""
            steps.add(
                cs.finalized_at, f"checkout_{cs.status}",
                f"checkout session {cs.id} {cs.status}{target}",
                session_id=cs.id, subscription_id=cs.stripe_subscription_id,
                after_checkout_seconds=_seconds(cs.created_at, cs.finalized_at),
            )
    for mapping in await _rows(
        session,
        "SELECT stripe_customer_id, created_at FROM workspace_billing_customers "
        "WHERE workspace_id = :w",
        w=workspace_id,
    ):
        customers.add(mapping.stripe_customer_id)
        steps.add(
            mapping.created_at, "customer_mapped",
            f"customer {mapping.stripe_customer_id} is the workspace's Stripe customer",
            customer_id=mapping.stripe_customer_id,
        )
    for audit in await _rows(
        session,
        "SELECT event_type, old_stripe_customer_id, new_stripe_customer_id, reason, "
        "stripe_event_id, created_at FROM workspace_billing_customer_events "
        "WHERE workspace_id = :w ORDER BY id",
        w=workspace_id,
    ):
        customers.update(
            c for c in (audit.old_stripe_customer_id, audit.new_stripe_customer_id) if c
        )
        change = " → ".join(
            c for c in (audit.old_stripe_customer_id, audit.new_stripe_customer_id) if c
        )
        steps.add(
            audit.created_at, f"customer_{audit.event_type}",
            f"customer {audit.event_type}: {change}"
            + (f" ({audit.reason})" if audit.reason else ""),
            stripe_event_id=audit.stripe_event_id,
        )
    for sub in await _rows(
        session,
        "SELECT plan_slug, status, stripe_subscription_id, stripe_customer_id, stripe_price_id, "
        "interval, current_period_end, cancel_at_period_end, grace_period_end, created_at, "
        "updated_at, last_stripe_event_id FROM subscriptions WHERE workspace_id = :w",
        w=workspace_id,
    ):
        objects.update(o for o in (sub.stripe_subscription_id,) if o)
        customers.update(c for c in (sub.stripe_customer_id,) if c)
        name = sub.stripe_subscription_id or "(no Stripe subscription)"
        grace = f", grace until {sub.grace_period_end.isoformat()}" if sub.grace_period_end else ""
        steps.add(
            sub.created_at, "subscription",
            f"subscription row {sub.plan_slug} {name}: now {sub.status}{grace}",
            subscription_id=sub.stripe_subscription_id, status=sub.status,
            price=sub.stripe_price_id, interval=sub.interval, updated_at=sub.updated_at,
            current_period_end=sub.current_period_end,
            cancel_at_period_end=sub.cancel_at_period_end, grace_period_end=sub.grace_period_end,
            last_stripe_event_id=sub.last_stripe_event_id,
        )
    for event in (
        await lookups.of_workspace(session, workspace_id, objects, customers, MAX_EVENTS)
    ):
        error = f"; error: {_short(event.last_error)}" if event.last_error else ""
        took = _seconds(event.received_at, event.processed_at)
        done = f", applied {took}s after receipt" if event.status == "completed" else ""
        status = f"{event.status} ({event.reason})" if event.reason else event.status
        if event.status == LedgerStatus.DEAD:
            # Nothing retries a dead event by itself: say what support can do about it.
            status = f"DEAD, gave up; `billing events retry {event.id}` re-runs it"
        steps.add(
            event.received_at, "stripe_event",
            f"stripe event {event.type} {event.id}: {status} "
            f"(attempts {event.attempts}, via {event.source}{done}){error}",
            event_id=event.id, type=event.type, status=event.status, attempts=event.attempts,
            reason=event.reason,
            last_error=_short(event.last_error), source=event.source,
            object_id=event.stripe_object_id, stripe_created_at=event.stripe_created_at,
            processed_at=event.processed_at,
            processing_seconds=took,
            delivery_delay_seconds=_seconds(event.stripe_created_at, event.received_at),
        )
    return found[0], customers, sessions


async def _workflow_steps(
    client: Client, settings: Settings, query: str, steps: _Steps
) -> None:
    count = 0
    async for execution in client.list_workflows(query, limit=MAX_WORKFLOWS):
        count += 1
        status = execution.status.name.lower() if execution.status else "unknown"
        took = _seconds(execution.start_time, execution.close_time)
        duration = f" in {took}s" if took is not None else ""
        steps.add(
            execution.start_time, "workflow",
            f"workflow {execution.workflow_type} {execution.id}: {status}{duration}",
            link=workflow_link(settings, execution.id, execution.run_id),
            workflow_id=execution.id, run_id=execution.run_id, status=status,
            closed_at=execution.close_time, duration_seconds=took,
        )
        if count >= MAX_WORKFLOWS:
            return


def _timeline(steps: list[TraceStep]) -> list[TraceStep]:
    ordered = sorted(steps, key=lambda s: (s.at, KIND_ORDER.get(s.kind, 5)))
    previous: datetime | None = None
    first_checkout: datetime | None = None
    for step in ordered:
        if first_checkout is None and step.kind in CHECKOUT_KINDS:
            first_checkout = step.at
        step.since_previous_seconds = _seconds(previous, step.at)
        step.since_checkout_seconds = _seconds(first_checkout, step.at)
        previous = step.at
    return ordered


async def build_trace(
    sessions: async_sessionmaker[AsyncSession],
    client: Client | None,
    settings: Settings,
    workspace_id: uuid.UUID,
) -> WorkspaceTrace:
    """The workspace's timeline; raises WorkspaceNotFound for an unknown workspace."""
    steps = _Steps()
    async with sessions() as session:
        workspace, customers, session_ids = await _database_steps(session, workspace_id, steps)
    query = visibility_query(str(workspace_id), customers, session_ids)
    temporal_error: str | None = None
    if client is None:
        temporal_error = "no Temporal client"
    else:
        try:
            await _workflow_steps(client, settings, query, steps)
        except Exception as exc:  # visibility down: the DB timeline still answers support
            temporal_error = f"temporal visibility unavailable: {type(exc).__name__}"
    now = datetime.now(UTC)
    steps.add(now, "plan", f"current plan: {workspace.plan}", plan=workspace.plan)
    base = _ui_base(settings)
    return WorkspaceTrace(
        workspace_id=str(workspace_id),
        workspace_name=workspace.name,
        plan=workspace.plan,
        generated_at=now,
        workflows_link=f"{base}/workflows?query={quote(query, safe='')}",
        temporal_error=temporal_error,
        steps=_timeline(steps.items),
    )


def _fmt(seconds: float | None) -> str:
    return "" if seconds is None else f"+{seconds:.3f}s"


def render_text(trace: WorkspaceTrace) -> str:
    """The timeline as aligned text lines, oldest first (what `billing trace` prints)."""
    lines = [
        f"workspace {trace.workspace_id} ({trace.workspace_name}): plan {trace.plan}",
        f"temporal: {trace.workflows_link}",
    ]
    if trace.temporal_error:
        lines.append(f"warning: {trace.temporal_error}")
    lines.append(f"{'at (UTC)':<26} {'since prev':>11} {'since checkout':>15}  step")
    for step in trace.steps:
        at = step.at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        lines.append(
            f"{at:<26} {_fmt(step.since_previous_seconds):>11} "
            f"{_fmt(step.since_checkout_seconds):>15}  [{step.kind}] {step.summary}"
        )
        if step.link:
            lines.append(f"{'':<56}{step.link}")
    return "\n".join(lines) + "\n"


async def trace_command(settings: Settings, workspace_id: uuid.UUID, as_json: bool) -> str:
    """`billing trace`: connect, build the trace, render it; the engine is disposed after."""
    from core.db import create_db_engine, session_factory
    from core.temporal_client import connect_temporal

    engine = create_db_engine(settings.database_url, pool_size=2)
    try:
        client: Client | None = await connect_temporal(settings)
    except Exception:  # the DB timeline is still worth printing
        client = None
    try:
        trace = await build_trace(session_factory(engine), client, settings, workspace_id)
    finally:
        await engine.dispose()
    return trace.model_dump_json(indent=2) + "\n" if as_json else render_text(trace)
