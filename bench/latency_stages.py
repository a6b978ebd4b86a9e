"""Where an event's time goes between the delivery and its plan, from its Temporal history.

For each event of a run: sent (the bench's clock), the workflow's start (history event 1),
its first workflow task scheduled / started / completed, and the ledger row's commit
(`processed_at`). The stages:

- `start`: delivery sent → workflow started (the API's answer and its start after it);
- `queue`: workflow started → first workflow task picked up by a worker (poll wait);
- `process`: picked up → first workflow task completed (claim + apply in the local activity);
- `extra_tasks`: workflow tasks beyond the first (a local activity outliving a task, a task
  timeout or a worker restart) and `failed_tasks` (task failures and timeouts).

`stages()` returns percentiles per stage and the slowest events with their own breakdown,
so a tail can be named rather than guessed.
"""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from core.constants import event_workflow_id

_SCHEDULED = EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
_STARTED = EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
_FAILED = (EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED, EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)


def _seconds(event: Any) -> float:
    return float(event.event_time.seconds) + event.event_time.nanos / 1e9


async def breakdown(client: Client, event_id: str, sent: float, committed: float) -> dict[str, Any]:
    history = await client.get_workflow_handle(event_workflow_id(event_id)).fetch_history()
    events = history.events
    started = _seconds(events[0])
    picked = next((_seconds(e) for e in events if e.event_type == _STARTED), started)
    done = next((_seconds(e) for e in events if e.event_type == _COMPLETED), picked)
    tasks = sum(1 for e in events if e.event_type == _SCHEDULED)
    return {
        "event_id": event_id,
        "total_ms": round((committed - sent) * 1000, 1),
        "start_ms": round((started - sent) * 1000, 1),
        "queue_ms": round((picked - started) * 1000, 1),
        "process_ms": round((done - picked) * 1000, 1),
        "commit_after_task_ms": round((committed - done) * 1000, 1),
        "extra_tasks": max(0, tasks - 1),
        "failed_tasks": sum(1 for e in events if e.event_type in _FAILED),
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p90": round(ordered[max(0, int(len(ordered) * 0.9) - 1)], 1),
        "p99": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 1),
        "max": round(ordered[-1], 1),
    }


async def stages(
    client: Client, timings: dict[str, tuple[float, float]], slowest: int = 5
) -> dict[str, Any]:
    """`timings`: event id → (sent, committed) in Unix seconds."""
    rows = []
    ids = list(timings)
    for chunk in range(0, len(ids), 20):
        rows.extend(await asyncio.gather(*(
            breakdown(client, event_id, *timings[event_id]) for event_id in ids[chunk:chunk + 20]
        )))
    keys = ("total_ms", "start_ms", "queue_ms", "process_ms", "commit_after_task_ms")
    return {
        "n": len(rows),
        **{key: _percentiles([row[key] for row in rows]) for key in keys},
        "events_with_extra_tasks": sum(1 for row in rows if row["extra_tasks"]),
        "events_with_failed_tasks": sum(1 for row in rows if row["failed_tasks"]),
        "slowest": sorted(rows, key=lambda row: row["total_ms"], reverse=True)[:slowest],
    }
