"""The one way to start `stripe-event:{id}`: same workflow id and id policies on every path.

The webhook route, the Events API reconcile, the replay sweep and operators all start event
workflows here. One event can never sink a batch: a start Temporal refuses for the event
itself (an id over its length limit, say) costs that event an attempt on its row — `failed`
with the error and a backoff, or `dead` at STRIPE_WEBHOOK_MAX_ATTEMPTS — and the batch goes
on; a start lost to an outage is noted on the row, which stays due for the next sweep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.constants import SA_STRIPE_EVENT_TYPE, event_workflow_id
from core.metrics import WEBHOOKS_DEAD, WEBHOOKS_FAILED
from ledger import events as ledger
from models.event_payloads import StripeEventInput
from models.schedule_payloads import DispatchResult
from models.vocabulary import LedgerStatus

logger = logging.getLogger("billing.ledger")

EVENT_WORKFLOW = "StripeEventWorkflow"
# Concurrent start RPCs of one dispatch: fast, yet far below the server's limits.
START_CONCURRENCY = 20
# Ids named in a dispatch result: enough to find them, bounded whatever the backlog.
MAX_SKIPPED_IDS = 50
# Temporal refusing the request itself (an id too long, a payload too big): the same start
# can never succeed, so it costs the event an attempt. Any other failure is an outage.
REFUSED_STATUSES = frozenset({RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.OUT_OF_RANGE})

STARTED = "started"
ALREADY_DONE = "already_done"
START_REFUSED = "start_refused"
TEMPORAL_UNAVAILABLE = "temporal_unavailable"


async def start_event_workflow(
    client: Client, task_queue: str, event_id: str, event_type: str, *, rerun_closed: bool = False
) -> bool:
    """Start `stripe-event:{id}`; False if a closed run already has that id.

    The id is the dedupe: a running workflow is joined (USE_EXISTING), a failed one re-run
    (ALLOW_DUPLICATE_FAILED_ONLY). `rerun_closed` also re-runs a workflow that completed
    while its row still says `failed`, because the ledger, not Temporal's history, says
    whether an event was applied. Raises what Temporal raises; `dispatch_events` records it.
    """
    reuse = (
        WorkflowIDReusePolicy.ALLOW_DUPLICATE
        if rerun_closed
        else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
    )
    try:
        await client.start_workflow(
            EVENT_WORKFLOW,
            StripeEventInput(event_id=event_id, event_type=event_type),
            id=event_workflow_id(event_id),
            task_queue=task_queue,
            id_reuse_policy=reuse,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(SA_STRIPE_EVENT_TYPE, event_type)]
            ),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


def start_failure(exc: BaseException) -> tuple[str, str]:
    """(kind, error text) of a failed start: the event's own refusal, or an outage."""
    if isinstance(exc, RPCError):
        kind = START_REFUSED if exc.status in REFUSED_STATUSES else TEMPORAL_UNAVAILABLE
        return kind, f"workflow start failed: {exc.status.name}: {exc.message}"
    return TEMPORAL_UNAVAILABLE, f"workflow start failed: {type(exc).__name__}: {exc}"


@dataclass
class _Failure:
    event_id: str
    event_type: str
    kind: str
    error: str


@dataclass
class Dispatched:
    """What one dispatch did: the counts for a workflow result, and each event's outcome."""

    result: DispatchResult
    outcomes: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


async def _start_one(
    client: Client, task_queue: str, event_id: str, event_type: str, rerun: bool
) -> tuple[str, str | None]:
    """(outcome, error): started or already done, or the kind of failure and its text."""
    try:
        started = await start_event_workflow(client, task_queue, event_id, event_type)
        if not started and rerun:
            started = await start_event_workflow(
                client, task_queue, event_id, event_type, rerun_closed=True
            )
    except Exception as exc:  # whatever Temporal raises is this event's outcome, not ours
        return start_failure(exc)
    return (STARTED if started else ALREADY_DONE), None


async def _record(
    session: AsyncSession, failure: _Failure, max_attempts: int, result: DispatchResult
) -> str | None:
    """Write a failed start on its row; the row's new status (None: unchanged)."""
    if failure.kind == TEMPORAL_UNAVAILABLE:
        await ledger.note_error(session, failure.event_id, failure.error)
        return None
    status = await ledger.mark_failed(
        session, failure.event_id, failure.error, max_attempts=max_attempts, counted=True
    )
    if status is not None:
        WEBHOOKS_FAILED.labels(failure.event_type).inc()
    if status == LedgerStatus.DEAD:
        WEBHOOKS_DEAD.labels(failure.event_type).inc()
        result.dead += 1
    return status


async def dispatch(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    events: Sequence[tuple[str, str, str]],
    *,
    max_attempts: int,
    rerun_closed: bool = False,
) -> Dispatched:
    """Start the workflow of each (id, type, status) with bounded concurrency.

    A `failed` row whose workflow completed is re-run (its row says it was not applied), as
    is every row when `rerun_closed` (an operator's retry). Failed starts are written on
    their rows in one transaction after the starts; nothing here raises for one event.
    """
    done = Dispatched(DispatchResult())
    result = done.result
    gate = asyncio.Semaphore(START_CONCURRENCY)
    failures: list[_Failure] = []

    async def one(event_id: str, event_type: str, status: str) -> None:
        async with gate:
            outcome, error = await _start_one(
                client, task_queue, event_id, event_type, rerun_closed or status == "failed"
            )
        done.outcomes[event_id] = outcome
        if error is not None:
            failures.append(_Failure(event_id, event_type, outcome, error))
            done.errors[event_id] = error
            return
        if outcome == STARTED:
            result.dispatched += 1
        else:
            result.already_done += 1
        if status == "processing":
            result.stale_claims += 1

    await asyncio.gather(*(one(*event) for event in events))
    if failures:
        async with sessions() as session, session.begin():
            for failure in failures:
                await _record(session, failure, max_attempts, result)
        for failure in failures:
            if failure.kind == START_REFUSED:
                result.start_refused += 1
            else:
                result.start_unavailable += 1
            if len(result.skipped_ids) < MAX_SKIPPED_IDS:
                result.skipped_ids.append(failure.event_id)
            logger.warning("event %.80s not started: %s", failure.event_id, failure.error)
    return done


async def dispatch_events(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    events: Sequence[tuple[str, str, str]],
    *,
    max_attempts: int,
) -> DispatchResult:
    """`dispatch` for the sweep and the Events API reconcile: the counts only."""
    dispatched = await dispatch(
        client, sessions, task_queue, events, max_attempts=max_attempts
    )
    return dispatched.result


NOT_FOUND = "not_found"
FINAL = "final"


@dataclass(frozen=True)
class Retried:
    """An operator's retry of one event: what happened and the row's status after it."""

    event_id: str
    # started | already_done | start_refused | temporal_unavailable | not_found | final
    outcome: str
    status: str | None
    error: str | None = None


async def retry_events(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    event_ids: Sequence[str],
    *,
    max_attempts: int,
) -> list[Retried]:
    """Re-run events through the normal id policies: dead rows are reopened as `failed`, and
    every unfinished one is started, re-running a closed workflow; completed or ignored rows
    are left alone (their effect, or their reason, stands)."""
    wanted = list(dict.fromkeys(event_ids))
    async with sessions() as session, session.begin():
        before = await ledger.statuses_of(session, wanted)
        await ledger.reopen_dead(
            session, [i for i, row in before.items() if row.status == LedgerStatus.DEAD]
        )
    retryable = [
        (row.id, row.type, LedgerStatus.FAILED)
        for row in before.values()
        if row.status in ledger.UNFINISHED
    ]
    done = await dispatch(
        client, sessions, task_queue, retryable, max_attempts=max_attempts, rerun_closed=True
    )
    async with sessions() as session:
        after = await ledger.statuses_of(session, wanted)
    retried: list[Retried] = []
    for event_id in wanted:
        row = before.get(event_id)
        if row is None:
            retried.append(Retried(event_id, NOT_FOUND, None))
        elif row.status not in ledger.UNFINISHED:
            retried.append(Retried(event_id, FINAL, row.status))
        else:
            status = after[event_id].status if event_id in after else None
            outcome = done.outcomes.get(event_id, TEMPORAL_UNAVAILABLE)
            retried.append(Retried(event_id, outcome, status, done.errors.get(event_id)))
    return retried
