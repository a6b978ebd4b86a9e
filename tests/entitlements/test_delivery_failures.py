"""A receiver that fails for a while (500s, then a timeout, then success) still ends with the
newest version, delivered under one id, never older after newer."""

from __future__ import annotations

from tests.conftest import create_workspace
from tests.entitlements.conftest import Stack


async def test_500s_then_a_timeout_then_success_delivers_the_same_notice(stack: Stack) -> None:
    workspace_id, _ = await create_workspace(stack.sessions)
    # The receiver's first answers: two 500s, then no answer within the 1 s budget.
    stack.receiver.scripts[str(workspace_id)] = [500, 503, ("hang", 3)]
    _, _, subscription_id = await stack.buy_for(workspace_id)
    await stack.settled()
    await stack.delivered_version(workspace_id, 1)

    received = stack.receiver.of(str(workspace_id))
    assert [r.id for r in received] == [f"ent_{workspace_id}_1"] * 4  # one id, redelivered
    assert [r.answered for r in received] == [500, 503, 0, 200]
    assert all(r.signed for r in received)
    # Backoff between attempts: 0.2 s, 0.4 s, then the timeout's own second.
    gaps = [b.at - a.at for a, b in zip(received, received[1:], strict=False)]
    assert gaps[0] >= 0.15 and gaps[1] >= 0.35 and gaps[2] >= 0.75, gaps
    [notice] = await stack.notices(workspace_id)
    assert (notice["status"], notice["attempts"], notice["last_http_status"]) == (
        "delivered",
        4,
        200,
    )
    assert notice["last_error"] == "no answer within 1s"

    # A change while the receiver is failing: the newer version supersedes the one retrying.
    stack.receiver.scripts[str(workspace_id)] = [500, 500]
    await stack.switch(subscription_id, "business")
    await stack.settled()
    await stack.delivered_version(workspace_id, 2)
    order = [r.version for r in stack.receiver.of(str(workspace_id))]
    assert order == sorted(order)
