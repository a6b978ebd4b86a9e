"""Entitlement notice activities: deliver a workspace's newest notice once, and sweep for
notices whose drainer is gone."""

from __future__ import annotations

import asyncio
import logging
import uuid

import httpx
from temporalio import activity

from activities.deps import ActivityDeps
from core.db import transaction
from core.metrics import NOTICE_ATTEMPTS, NOTICE_LAG_SECONDS, NOTICES_FAILED
from core.notice_drainer import wake_drainers
from core.notice_signature import HEADER, sign
from models.entitlement_payloads import (
    ACTIVITY_DELIVER_NOTICE,
    ACTIVITY_SWEEP_NOTICES,
    DeliverInput,
    DeliverOutcome,
    DeliverResult,
    SweepInput,
    SweepResult,
)
from rules.notices import (
    Claim,
    NoClaim,
    NoticePolicy,
    Recorded,
    claim_newest,
    overdue_workspaces,
    record_delivered,
    record_failed,
)

logger = logging.getLogger("billing.notices")

SWEEP_BATCH_SIZE = 500
# A pending notice not attempted this long after it was due has no drainer working on it.
SWEEP_SLACK_SECONDS = 30.0


class EntitlementNoticeActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._settings = deps.settings
        self._sessions = deps.sessions
        self._http = deps.notice_http
        self._policy = NoticePolicy.from_settings(deps.settings)

    @activity.defn(name=ACTIVITY_DELIVER_NOTICE)
    async def deliver_newest(self, data: DeliverInput) -> DeliverResult:
        """One attempt at the workspace's newest pending notice: claim, POST, record."""
        url, secret = self._settings.app_webhook_url, self._settings.app_webhook_secret
        if not url or not secret:
            return DeliverResult(outcome=DeliverOutcome.DISABLED)
        async with transaction(self._sessions) as session:
            claim = await claim_newest(session, uuid.UUID(data.workspace_id), self._policy)
        if isinstance(claim, NoClaim):
            return DeliverResult(
                outcome=claim.outcome,
                notice_id=claim.notice_id,
                version=claim.version,
                retry_in_seconds=claim.retry_in_seconds,
            )
        http_status, error = await self._post(url, secret, claim)
        async with transaction(self._sessions) as session:
            if error is None and http_status is not None:
                recorded = await record_delivered(session, claim, http_status)
            else:
                recorded = await record_failed(
                    session, claim, self._policy, error or "no answer", http_status
                )
        self._observe(claim, recorded, error)
        return DeliverResult(
            outcome=recorded.outcome,
            notice_id=claim.notice_id,
            version=claim.version,
            retry_in_seconds=recorded.retry_in_seconds,
            error=error,
        )

    async def _post(self, url: str, secret: str, claim: Claim) -> tuple[int | None, str | None]:
        """(HTTP status, error or None when the receiver acknowledged with a 2xx)."""
        headers = {"Content-Type": "application/json", HEADER: sign(secret, claim.body)}
        budget = self._settings.app_webhook_timeout_seconds
        try:
            async with asyncio.timeout(budget):
                # Streamed and never read: a receiver's answer body is not ours to buffer.
                async with self._http.stream("POST", url, content=claim.body, headers=headers) as r:
                    status = r.status_code
        except TimeoutError:
            return None, f"no answer within {budget:g}s"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__} from the receiver"
        if 200 <= status < 300:
            return status, None
        return status, f"HTTP {status}"

    def _observe(self, claim: Claim, recorded: Recorded, error: str | None) -> None:
        NOTICE_ATTEMPTS.labels("delivered" if error is None else "failed").inc()
        if recorded.lag_seconds is not None:
            NOTICE_LAG_SECONDS.observe(recorded.lag_seconds)
        if recorded.outcome == DeliverOutcome.FAILED:
            NOTICES_FAILED.inc()
            logger.error(
                "entitlement notice %s given up after %.0f h of retries (last error: %s); "
                "`billing entitlements resend %s` sends it again",
                claim.notice_id,
                self._policy.window_seconds / 3600,
                error,
                claim.notice_id,
            )
        elif error is not None:
            logger.info("entitlement notice %s not delivered: %s", claim.notice_id, error)

    @activity.defn(name=ACTIVITY_SWEEP_NOTICES)
    async def sweep_notices(self, data: SweepInput) -> SweepResult:
        """Wake the drainer of every workspace whose due notice nobody attempted."""
        if not self._settings.app_webhook_url:
            return SweepResult()
        client, task_queue = activity.client(), activity.info().task_queue
        limit = data.batch_size or SWEEP_BATCH_SIZE
        after: str | None = None
        woken = 0
        while True:
            async with transaction(self._sessions) as session:
                found = await overdue_workspaces(session, after, limit, SWEEP_SLACK_SECONDS)
            if found:
                woken += await wake_drainers(
                    client, task_queue, found, self._settings.app_webhook_timeout_seconds
                )
                after = found[-1]
                activity.heartbeat(after)
            if len(found) < limit:
                break
        if woken:
            logger.warning("notice sweep woke %d drainers that had stopped", woken)
        return SweepResult(woken=woken)
