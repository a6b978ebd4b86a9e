"""A deliberately non-deterministic ReplayWorkflow edit, kept apart so the sandbox can load it."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.schedule_payloads import ReplayInput, ReplayResult
    from workflows.replay import ReplayWorkflow


@workflow.defn(name="ReplayWorkflow")
class SweepFirstReplayWorkflow(ReplayWorkflow):
    """The ledger sweep moved before the Events API reconcile."""

    @workflow.run
    async def run(self, input: ReplayInput | None = None) -> ReplayResult:
        await self._sweep(input or ReplayInput(), ReplayResult())
        return await super().run(input)
