"""`billing dev` restarted: Stripe's truth survives (objects, events, idempotency keys), the
object reconcile finds nothing to correct, a start right after Ctrl-C waits for the previous
stack and its embedded PostgreSQL, and `--reset` starts both sides empty."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from core.payload_keys import PayloadKeys
from core.temporal_client import data_converter
from models.schedule_payloads import ReplayInput, ReplayResult
from ops.postgres import fresh_database
from tests.browser.stack import DevStack
from workflows.replay import ReplayWorkflow

pytestmark = pytest.mark.slow


def api(stack: DevStack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    token = stack.stack["demo_owner_token"]
    return httpx.request(
        method,
        f"{stack.stack['api_url']}{path}",
        headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})},
        timeout=30,
        **kwargs,
    )


def stripe_get(stack: DevStack, path: str) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.stack['emulator_url']}{path}",
        headers={"Authorization": f"Bearer {stack.stack['stripe_secret_key']}"},
        timeout=10,
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def wait_for_plan(stack: DevStack, workspace_id: str, plan: str) -> None:
    deadline = time.monotonic() + 30
    while stack.rows("SELECT plan FROM workspaces WHERE id = %(w)s", w=workspace_id)[0][
        "plan"
    ] != plan:
        assert time.monotonic() < deadline, f"workspace never reached {plan}"
        time.sleep(0.2)


async def object_reconcile(stack: DevStack) -> ReplayResult:
    # The stack encrypts its payloads with the key `billing dev` keeps in its secrets file.
    secrets = json.loads((stack.data_dir / "dev-secrets.json").read_text())
    converter = data_converter(PayloadKeys.parse(secrets["payload_keys"]))
    client = await Client.connect(stack.stack["temporal_address"], data_converter=converter)
    return await client.execute_workflow(
        ReplayWorkflow.run,
        ReplayInput(reconcile_events=False),
        id=f"test-replay-{uuid.uuid4()}",
        task_queue="billing",
    )


@pytest.fixture
def configured_stack(admin_database_url: str, tmp_path: Path) -> Iterator[DevStack]:
    with fresh_database(admin_database_url, "billing_dev") as database_url:
        stack = DevStack(tmp_path / "data", database_url)
        try:
            yield stack
        finally:
            stack.stop()


async def test_a_restarted_stack_keeps_stripes_truth(configured_stack: DevStack) -> None:
    stack = configured_stack
    stack.start()
    printed = stack.printed.split("Billing stack is up")[1]
    assert printed.startswith(f" — open {stack.stack['page_url']}")
    workspace = stack.stack["demo_workspace_id"]
    key = str(uuid.uuid4())
    session = api(
        stack,
        "POST",
        f"/api/v1/stripe/workspaces/{workspace}/checkout-session",
        json={"plan_slug": "pro", "interval": "monthly"},
        headers={"Idempotency-Key": key},
    ).json()
    assert httpx.post(f"{session['url']}/pay", timeout=10).status_code == 303
    wait_for_plan(stack, workspace, "pro")
    customer = httpx.post(
        f"{stack.stack['emulator_url']}/v1/customers",
        data={"email": "kept@example.com"},
        headers={
            "Authorization": f"Bearer {stack.stack['stripe_secret_key']}",
            "Idempotency-Key": "kept-across-restarts",
        },
        timeout=10,
    ).json()
    subscriptions = stripe_get(stack, "/v1/subscriptions?status=all&limit=100")["data"]
    events = [e["id"] for e in stripe_get(stack, "/v1/events?limit=100")["data"]]
    assert len(subscriptions) == 3  # the pro and past_due demos, and the purchase

    stack.stop()
    stack.start()

    # Same account: no demo subscription made twice, every event still listed.
    assert stripe_get(stack, "/v1/subscriptions?status=all&limit=100")["data"] == subscriptions
    after = [e["id"] for e in stripe_get(stack, "/v1/events?limit=100")["data"]]
    assert after[-len(events):] == events
    assert stripe_get(stack, f"/v1/checkout/sessions/{session['id']}")["status"] == "complete"
    replay = httpx.post(
        f"{stack.stack['emulator_url']}/v1/customers",
        data={"email": "kept@example.com"},
        headers={
            "Authorization": f"Bearer {stack.stack['stripe_secret_key']}",
            "Idempotency-Key": "kept-across-restarts",
        },
        timeout=10,
    )
    assert replay.json() == customer and replay.headers["idempotent-replayed"] == "true"
    # The service's own replay of the purchase key answers the same session.
    again = api(
        stack,
        "POST",
        f"/api/v1/stripe/workspaces/{workspace}/checkout-session",
        json={"plan_slug": "pro", "interval": "monthly"},
        headers={"Idempotency-Key": key},
    ).json()
    assert again["id"] == session["id"]

    result = await object_reconcile(stack)
    assert result.subscriptions_checked >= 3
    assert (result.mismatches, result.mismatched_subscriptions) == (0, [])


@pytest.fixture
def open_data_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: its 0700 parents shut out the embedded server's user.
    parent = Path(tempfile.mkdtemp(prefix="billing-dev-test-"))
    yield parent / "data"
    shutil.rmtree(parent, ignore_errors=True)


async def test_a_start_right_after_ctrl_c_waits_and_reset_empties_both_sides(
    open_data_dir: Path,
) -> None:
    # The embedded PostgreSQL (no DATABASE_URL), as a developer's first `billing dev` runs.
    first = DevStack(open_data_dir, "")
    del first.env["DATABASE_URL"]
    second = DevStack(open_data_dir, "")
    second.env = first.env
    try:
        first.start()
        customer = httpx.post(
            f"{first.stack['emulator_url']}/v1/customers",
            headers={"Authorization": f"Bearer {first.stack['stripe_secret_key']}"},
            timeout=10,
        ).json()["id"]
        first.database_url = second.database_url = first.stack["database_url"]
        first.execute("INSERT INTO workspaces (id, name) VALUES (gen_random_uuid(), 'Mine')")
        assert first.process is not None
        first.signal_stop()  # Ctrl-C, and at once a new start on the same data directory
        second.start()
        assert first.process.poll() is not None, "the new stack came up before the old stopped"
        assert "waiting for the previous billing dev to stop" in second.printed
        assert stripe_get(second, f"/v1/customers/{customer}")["id"] == customer
        assert "Mine" in {row["name"] for row in second.rows("SELECT name FROM workspaces")}
        second.stop()

        second.start("--reset")
        missing = httpx.get(
            f"{second.stack['emulator_url']}/v1/customers/{customer}",
            headers={"Authorization": f"Bearer {second.stack['stripe_secret_key']}"},
            timeout=10,
        )
        assert missing.status_code == 404
        # Our side is empty too, but for the demo workspaces seeded anew.
        names = {row["name"] for row in second.rows("SELECT name FROM workspaces")}
        assert names == {w["name"] for w in second.stack["demo_workspaces"]}
        assert "Mine" not in names
    finally:
        first.stop()
        second.stop()
