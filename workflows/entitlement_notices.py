"""EntitlementNoticesWorkflow: the one serial drainer of a workspace's entitlement notices.

Started or woken (signal-with-start of `entitlements-notices:{workspace}`) after a version
commits, and by the sweep. It delivers the newest pending notice, again and again while
newer ones appear; when the receiver fails it waits out the backoff the outbox computed —
or less, when a newer version wakes it — and after a quiet spell it ends. One workflow per
workspace (its id) and one lease per workspace (in the outbox) keep deliveries in order.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.entitlement_notices import EntitlementNoticeActivities
    from models.entitlement_payloads import (
        NOTICE_WORKFLOW,
        WAKE_SIGNAL,
        DeliverInput,
        DeliverOutcome,
        NoticeDrainInput,
        NoticeDrainResult,
    )

# An activity failure (the database unreachable) is retried; receiver failures are not
# failures of the activity, they come back as `retry` with the outbox's backoff.
ATTEMPT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
# History stays short: a long-lived drainer continues as new after this many attempts.
MAX_ROUNDS = 200
# Beyond one attempt's HTTP budget: the claim and the record, each a short transaction.
ATTEMPT_MARGIN = timedelta(seconds=5)


@workflow.defn(name=NOTICE_WORKFLOW)
class EntitlementNoticesWorkflow:
    def __init__(self) -> None:
        self._woken = False

    @workflow.signal(name=WAKE_SIGNAL)
    def wake(self) -> None:
        self._woken = True

    @workflow.run
    async def run(self, data: NoticeDrainInput) -> NoticeDrainResult:
        result = NoticeDrainResult()
        attempt_timeout = timedelta(seconds=data.attempt_timeout_seconds) + ATTEMPT_MARGIN
        for _ in range(MAX_ROUNDS):
            self._woken = False
            attempt = await workflow.execute_activity_method(
                EntitlementNoticeActivities.deliver_newest,
                DeliverInput(workspace_id=data.workspace_id),
                start_to_close_timeout=attempt_timeout,
                retry_policy=ATTEMPT_RETRY,
            )
            result.attempts += attempt.outcome in (DeliverOutcome.DELIVERED, DeliverOutcome.RETRY)
            if attempt.outcome == DeliverOutcome.DELIVERED:
                result.delivered += 1
                continue  # a newer version may already wait
            if attempt.outcome in (
                DeliverOutcome.RETRY,
                DeliverOutcome.NOT_DUE,
                DeliverOutcome.BUSY,
            ):
                await self._rest(timedelta(seconds=max(attempt.retry_in_seconds, 0.05)))
                continue
            result.failed += attempt.outcome == DeliverOutcome.FAILED
            # Idle, failed or disabled: stay a little for a new version, then end.
            if not await self._rest(timedelta(seconds=data.linger_seconds)):
                return result
        workflow.continue_as_new(data)

    async def _rest(self, duration: timedelta) -> bool:
        """Wait `duration` or until woken; whether a wake came."""
        try:
            await workflow.wait_condition(lambda: self._woken, timeout=duration)
        except TimeoutError:
            pass
        return self._woken
