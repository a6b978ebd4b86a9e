"""Fixtures of the fuzzers: the threaded system, a workspace with an owner and a member, and a
tally of the requests each fuzzer sent (printed at the end of the run)."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

from tests.conftest import EMULATOR_HEADERS, WEBHOOK_SECRET, create_workspace, make_settings
from tests.fuzz.system import ThreadedSystem
from tests.webhook.conftest import seed_plan_variants

# Examples per API operation / webhook examples; BILLING_FUZZ_EXAMPLES=2000 for a long run.
EXAMPLES = int(os.environ.get("BILLING_FUZZ_EXAMPLES", "0")) or None
API_EXAMPLES = EXAMPLES or 25
WEBHOOK_EXAMPLES = EXAMPLES or 300
# The default run is the same every time (CI); a long run explores new examples each time.
DERANDOMIZE = EXAMPLES is None

# fuzzer name → status code → requests sent; filled by the tests, printed by the hook below.
TALLY: dict[str, Counter[int]] = {}


def count(fuzzer: str, status: int) -> None:
    TALLY.setdefault(fuzzer, Counter())[status] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for fuzzer, statuses in sorted(TALLY.items()):
        spread = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
        terminalreporter.write_line(
            f"fuzz {fuzzer}: {sum(statuses.values())} requests ({spread})"
        )


@dataclass(frozen=True)
class Tenant:
    """A workspace of the fuzzed system with an owner and a plain member."""

    workspace_id: uuid.UUID
    owner_id: uuid.UUID
    member_id: uuid.UUID
    event_id: str  # a failed ledger event of the workspace, for the retry route


@pytest.fixture(scope="package")
def fuzz_system(
    database_url: str, temporal_env: WorkflowEnvironment, emulator_server: Any
) -> Iterator[ThreadedSystem]:
    settings = make_settings(
        database_url,
        temporal_env.client.service_client.config.target_host,
        f"billing-fuzz-{uuid.uuid4().hex[:8]}",
        stripe_api_base=emulator_server.url,
    )
    with httpx.Client(
        base_url=emulator_server.url, timeout=10, headers=EMULATOR_HEADERS
    ) as emulator:
        emulator.post("/_emulator/reset", json={}).raise_for_status()
        emulator.post(
            "/_emulator/config",
            json={"webhook_url": None, "webhook_secret": WEBHOOK_SECRET, "api_faults": []},
        ).raise_for_status()
        emulator.post("/_emulator/seed-catalog", json={"env": "test"}).raise_for_status()
    with ThreadedSystem(settings) as system:
        sessions = system.sessions
        assert sessions is not None
        system.run(lambda: seed_plan_variants(sessions))
        yield system


@pytest.fixture(scope="package")
def tenant(fuzz_system: ThreadedSystem) -> Tenant:
    sessions = fuzz_system.sessions
    assert sessions is not None
    workspace_id, owner_id = fuzz_system.run(lambda: create_workspace(sessions, "owner"))

    member_id, event_id = uuid.uuid4(), f"evt_fuzz_{uuid.uuid4().hex[:16]}"

    async def add_member_and_event() -> None:
        async with sessions() as session, session.begin():
            await session.execute(
                text(
                    "INSERT INTO workspace_members (workspace_id, user_id, role) "
                    "VALUES (:w, :u, 'member')"
                ),
                {"w": workspace_id, "u": member_id},
            )
            await session.execute(
                text(
                    "INSERT INTO stripe_webhook_events (id, type, payload, status, attempts, "
                    "source, last_error, workspace_id) VALUES (:id, 'invoice.paid', "
                    "'{}'::jsonb, 'failed', 1, 'webhook', 'boom', :w)"
                ),
                {"id": event_id, "w": workspace_id},
            )

    fuzz_system.run(add_member_and_event)
    return Tenant(workspace_id, owner_id, member_id, event_id)
