"""`billing entitlements notices [--failed]` and `billing entitlements resend ID`: the delivery
log of entitlement notices, and sending one again."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TextIO

from temporalio.client import Client

from core.config import Settings
from core.db import create_db_engine, session_factory, transaction
from core.notice_drainer import wake_drainer
from rules.notices import ResendRefused, list_notices, requeue


def format_notices(rows: Sequence[Any]) -> str:
    if not rows:
        return "no notices\n"
    lines = []
    for row in rows:
        attempted = (
            row.last_attempt_at.isoformat(timespec="seconds") if row.last_attempt_at else "-"
        )
        line = (
            f"{row.id}  {row.status:<10} attempts={row.attempts} "
            f"created={row.created_at.isoformat(timespec='seconds')} last_attempt={attempted}"
        )
        if row.status == "pending":
            line += f" next={row.next_attempt_at.isoformat(timespec='seconds')}"
        if row.last_error:
            line += f" last_error={row.last_error!r}"
        lines.append(line)
    return "\n".join(lines) + "\n"


async def notices_command(
    settings: Settings,
    out: TextIO,
    *,
    failed_only: bool = False,
    workspace_id: uuid.UUID | None = None,
    limit: int = 50,
) -> int:
    """The delivery log, newest first (only `failed` ones with `failed_only`)."""
    engine = create_db_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session:
            rows = await list_notices(
                session, failed_only=failed_only, workspace_id=workspace_id, limit=limit
            )
    finally:
        await engine.dispose()
    out.write(format_notices(rows))
    return 0


async def resend_command(
    settings: Settings, out: TextIO, notice_id: str, client: Client | None = None
) -> int:
    """Queue a notice again with a fresh retry window and wake its workspace's drainer."""
    if not settings.app_webhook_url:
        out.write("APP_WEBHOOK_URL is not set: there is nowhere to send notices\n")
        return 2
    engine = create_db_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        async with transaction(session_factory(engine)) as session:
            workspace_id = await requeue(session, notice_id)
    except ResendRefused as refused:
        out.write(f"{refused}\n")
        return 1
    finally:
        await engine.dispose()
    if client is None:
        from core.temporal_client import connect_temporal

        client = await connect_temporal(settings)
    await wake_drainer(
        client,
        settings.temporal_task_queue,
        str(workspace_id),
        settings.app_webhook_timeout_seconds,
    )
    out.write(f"{notice_id} queued for delivery\n")
    return 0
