"""The Temporal Schedules of DESIGN.md: created or updated at worker start, listed by the CLI."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from core.config import Settings
from core.constants import (
    SCHEDULE_CATALOG_SYNC,
    SCHEDULE_CLEANUP,
    SCHEDULE_ENTITLEMENT_NOTICES,
    SCHEDULE_GRACE,
    SCHEDULE_REPLAY,
)

logger = logging.getLogger("billing.schedules")

CATALOG_SYNC_WORKFLOW = "CatalogSyncWorkflow"
# Every job is a full sweep from durable state (DB rows, the Events API cursor), so a firing
# skipped while the previous run is still busy loses nothing: the next firing covers it.
OVERLAP = ScheduleOverlapPolicy.SKIP
# A manual trigger must not be dropped, yet never run beside a scheduled run of its kind.
TRIGGER_OVERLAP = ScheduleOverlapPolicy.BUFFER_ONE
DISABLED_NOTE = "paused: STRIPE_CATALOG_SYNC_ENABLED=false"
NOTICES_DISABLED_NOTE = "paused: APP_WEBHOOK_URL is not set"
SCHEDULE_IDS = (
    SCHEDULE_REPLAY,
    SCHEDULE_GRACE,
    SCHEDULE_CATALOG_SYNC,
    SCHEDULE_CLEANUP,
    SCHEDULE_ENTITLEMENT_NOTICES,
)


@dataclass(frozen=True)
class JobSpec:
    schedule_id: str
    workflow: str
    cron: str
    # After downtime, one missed firing within this window still runs (once, SKIP dedupes).
    catchup_window: timedelta
    execution_timeout: timedelta
    enabled: bool = True
    disabled_note: str = DISABLED_NOTE


def job_specs(settings: Settings) -> list[JobSpec]:
    return [
        JobSpec(
            SCHEDULE_REPLAY,
            "ReplayWorkflow",
            settings.stripe_replay_cron,
            catchup_window=timedelta(minutes=10),
            execution_timeout=timedelta(minutes=30),
        ),
        JobSpec(
            SCHEDULE_GRACE,
            "GraceDowngradeWorkflow",
            settings.billing_grace_cron,
            catchup_window=timedelta(hours=1),
            execution_timeout=timedelta(minutes=50),
        ),
        JobSpec(
            SCHEDULE_CATALOG_SYNC,
            CATALOG_SYNC_WORKFLOW,
            settings.stripe_catalog_sync_cron,
            catchup_window=timedelta(minutes=15),
            execution_timeout=timedelta(minutes=10),
            enabled=settings.stripe_catalog_sync_enabled,
        ),
        JobSpec(
            SCHEDULE_CLEANUP,
            "CleanupWorkflow",
            settings.stripe_cleanup_cron,
            catchup_window=timedelta(hours=12),
            execution_timeout=timedelta(hours=1),
        ),
        JobSpec(
            SCHEDULE_ENTITLEMENT_NOTICES,
            "EntitlementNoticeSweepWorkflow",
            settings.entitlement_notice_sweep_cron,
            catchup_window=timedelta(minutes=1),
            execution_timeout=timedelta(minutes=5),
            enabled=bool(settings.app_webhook_url),
            disabled_note=NOTICES_DISABLED_NOTE,
        ),
    ]


def build_schedule(job: JobSpec, task_queue: str) -> Schedule:
    return Schedule(
        # No arguments: every scheduled workflow's input is fully defaulted from settings.
        action=ScheduleActionStartWorkflow(
            job.workflow,
            id=job.schedule_id,  # the server appends the firing time: billing-replay-<ts>
            task_queue=task_queue,
            execution_timeout=job.execution_timeout,
        ),
        spec=ScheduleSpec(cron_expressions=[job.cron]),
        policy=SchedulePolicy(overlap=OVERLAP, catchup_window=job.catchup_window),
        state=ScheduleState(
            paused=not job.enabled,
            note=None if job.enabled else job.disabled_note,
        ),
    )


async def ensure_schedules(
    client: Client, settings: Settings, workflow_names: Collection[str]
) -> list[str]:
    """Create each schedule, or update it in place when it exists; returns the ids handled.

    A job whose workflow this worker does not serve is left alone (logged), so a partial
    deployment never schedules work nobody can run.
    """
    handled: list[str] = []
    for job in job_specs(settings):
        if job.workflow not in workflow_names:
            logger.warning(
                "schedule %s not registered: workflow %s is not served by this worker",
                job.schedule_id,
                job.workflow,
            )
            continue
        await upsert_schedule(
            client, job.schedule_id, build_schedule(job, settings.temporal_task_queue)
        )
        handled.append(job.schedule_id)
        logger.info(
            "schedule %s %s (%s)",
            job.schedule_id,
            "active" if job.enabled else "paused",
            job.cron,
        )
    return handled


async def upsert_schedule(client: Client, schedule_id: str, schedule: Schedule) -> None:
    try:
        await client.create_schedule(schedule_id, schedule)
        return
    except ScheduleAlreadyRunningError:
        pass

    async def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    # Several workers start at once: each replaces the schedule with the same definition.
    await client.get_schedule_handle(schedule_id).update(replace)


# --- Operators: `billing schedules` ---------------------------------------------------------


@dataclass(frozen=True)
class ScheduleSummary:
    schedule_id: str
    exists: bool
    paused: bool = False
    note: str | None = None
    spec: str = ""
    workflow: str = ""
    overlap: str = ""
    next_runs: Sequence[datetime] = ()
    last_run: datetime | None = None
    running: int = 0


def _range_text(ranges: Sequence[ScheduleRange], full: tuple[int, int]) -> str:
    parts = []
    for item in ranges:
        end = max(item.end, item.start)
        step = f"/{item.step}" if item.step > 1 else ""
        if (item.start, end) == full or (
            item.start == full[0] and item.step > 1 and end >= full[1]
        ):
            parts.append(f"*{step}")
        elif end == item.start:
            parts.append(f"{item.start}{step}")
        else:
            parts.append(f"{item.start}-{end}{step}")
    return ",".join(parts) or "*"


def calendar_to_cron(cal: ScheduleCalendarSpec) -> str:
    """The server keeps crons as calendars; render one back as `m h dom mon dow`."""
    return " ".join(
        (
            _range_text(cal.minute, (0, 59)),
            _range_text(cal.hour, (0, 23)),
            _range_text(cal.day_of_month, (1, 31)),
            _range_text(cal.month, (1, 12)),
            _range_text(cal.day_of_week, (0, 6)),
        )
    )


def summarize(schedule_id: str, desc: ScheduleDescription) -> ScheduleSummary:
    schedule = desc.schedule
    crons = [calendar_to_cron(cal) for cal in schedule.spec.calendars]
    crons += list(schedule.spec.cron_expressions)
    action = schedule.action
    workflow = action.workflow if isinstance(action, ScheduleActionStartWorkflow) else ""
    recent = desc.info.recent_actions
    return ScheduleSummary(
        schedule_id=schedule_id,
        exists=True,
        paused=schedule.state.paused,
        note=schedule.state.note or None,
        spec="; ".join(crons),
        workflow=workflow,
        overlap=schedule.policy.overlap.name,
        next_runs=tuple(desc.info.next_action_times[:3]),
        last_run=recent[-1].scheduled_at if recent else None,
        running=len(desc.info.running_actions),
    )


async def describe_schedules(client: Client) -> list[ScheduleSummary]:
    """The schedules with their next run times (a missing one is reported as such)."""
    summaries = []
    for schedule_id in SCHEDULE_IDS:
        try:
            desc = await client.get_schedule_handle(schedule_id).describe()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            summaries.append(ScheduleSummary(schedule_id=schedule_id, exists=False))
            continue
        summaries.append(summarize(schedule_id, desc))
    return summaries


async def trigger_schedule(client: Client, schedule_id: str) -> None:
    """Run a job now, outside its cron; buffered behind a run of the same kind in progress."""
    await client.get_schedule_handle(schedule_id).trigger(overlap=TRIGGER_OVERLAP)


def format_summaries(summaries: Sequence[ScheduleSummary]) -> str:
    lines = []
    for item in summaries:
        if not item.exists:
            lines.append(f"{item.schedule_id:<27} missing (start a worker to create it)")
            continue
        state = "paused" if item.paused else "active"
        next_run = item.next_runs[0].isoformat() if item.next_runs and not item.paused else "-"
        last_run = item.last_run.isoformat() if item.last_run else "-"
        line = (
            f"{item.schedule_id:<27} {state:<6} cron={item.spec!r} workflow={item.workflow} "
            f"overlap={item.overlap} next={next_run} last={last_run} running={item.running}"
        )
        if item.note:
            line += f" note={item.note!r}"
        lines.append(line)
    return "\n".join(lines) + "\n"


async def schedules_command(
    settings: Settings, out: TextIO, trigger: str | None = None, client: Client | None = None
) -> int:
    """`billing schedules [--trigger ID]`: list the schedules, or run one now."""
    from core.temporal_client import connect_temporal

    temporal = client or await connect_temporal(settings)
    if trigger is not None:
        known = {job.schedule_id for job in job_specs(settings)}
        if trigger not in known:
            out.write(f"unknown schedule {trigger!r}; one of: {', '.join(sorted(known))}\n")
            return 2
        try:
            await trigger_schedule(temporal, trigger)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            out.write(f"schedule {trigger} does not exist yet (start a worker first)\n")
            return 1
        out.write(f"triggered {trigger}\n")
    out.write(format_summaries(await describe_schedules(temporal)))
    return 0
