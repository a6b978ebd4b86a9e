"""A workspace's whole life against the real stack: each billing change is exactly one new
version, every notice reaches the receiver signed and in version order, the newest always
arrives, and a read at any moment answers the last committed version."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

from stripe_emulator.seed import catalog_ids
from tests.entitlements.conftest import Stack


class Reader:
    """Reads the route in a loop while the test runs, like the main application would."""

    def __init__(self, stack: Stack, workspace_id: uuid.UUID) -> None:
        self.stack, self.workspace_id = stack, workspace_id
        self.seen: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            response = await self.stack.read(self.workspace_id)
            assert response.status_code == 200, response.text
            assert response.headers["etag"] == f'"{response.json()["version"]}"'
            self.seen.append(response.json())
            await asyncio.sleep(0.02)

    def __enter__(self) -> Reader:
        self._task = asyncio.create_task(self._loop())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        if self._task.done():
            self._task.result()  # a failed read fails the test
        self._task.cancel()


def same_content(read: dict[str, Any], row: dict[str, Any]) -> bool:
    until = read["effective_until"]
    return (
        read["plan"] == row["plan"]
        and read["status"] == row["status"]
        and read["grants"] == row["grants"]
        and read["in_grace"] == row["in_grace"]
        and read["gating_bundle"] == row["gating_bundle"]
        and (datetime.fromisoformat(until) if until else None) == row["effective_until"]
    )


async def test_each_change_is_one_version_and_the_newest_reaches_the_receiver(
    stack: Stack,
) -> None:
    workspace_id, _, subscription_id = await stack.buy("pro")
    ws = str(workspace_id)
    business_product = catalog_ids("test")["product:business"]

    async def step(
        change: Callable[[], Awaitable[Any]] | None, expected_version: int
    ) -> dict[str, Any]:
        if change is not None:
            await change()
        await stack.settled()
        versions = await stack.versions(workspace_id)
        assert [v["version"] for v in versions] == list(range(1, expected_version + 1))
        await stack.delivered_version(workspace_id, expected_version)
        return versions[-1]

    with Reader(stack, workspace_id) as reader:
        bought = await step(None, 1)
        assert (bought["plan"], bought["status"], bought["effective_until"]) == (
            "pro",
            "active",
            None,
        )
        assert bought["grants"] == {"seats": 5, "forms": 50} and bought["cause"].startswith("evt_")

        upgraded = await step(lambda: stack.switch(subscription_id, "business"), 2)
        assert (upgraded["plan"], upgraded["grants"]) == ("business", {"seats": 25, "forms": 100})

        invoice = f"subscriptions/{subscription_id}/invoice"
        failed = await step(lambda: stack.control(invoice, {"paid": False}), 3)
        assert (failed["status"], failed["in_grace"]) == ("past_due", True)
        assert failed["effective_until"] is not None

        recovered = await step(lambda: stack.control(invoice, {"paid": True}), 4)
        assert (recovered["status"], recovered["in_grace"], recovered["effective_until"]) == (
            "active",
            False,
            None,
        )

        update = f"subscriptions/{subscription_id}/update"
        cancelling = await step(lambda: stack.control(update, {"cancel_at_period_end": True}), 5)
        assert cancelling["effective_until"] is not None and cancelling["plan"] == "business"

        async def grant_more() -> None:
            # Someone edits the product's grants in Stripe; the next sync carries them over.
            grants = json.dumps({"seats": 40, "forms": 100, "sso": True})
            product = await _update_product(stack, business_product, grants)
            assert product["metadata"]["grants"] == grants
            summary = await stack.sync_catalog()
            assert summary["entitlements_updated"] >= 1

        regranted = await step(grant_more, 6)
        assert regranted["grants"] == {"seats": 40, "forms": 100, "sso": True}
        assert regranted["cause"] == "catalog_sync"

        ended = await step(lambda: stack.control(update, {"status": "canceled"}), 7)
        assert (ended["plan"], ended["grants"], ended["effective_until"]) == ("free", {}, None)
        await asyncio.sleep(0.1)

    rows = {v["version"]: v for v in await stack.versions(workspace_id)}
    # Before the purchase committed: the free plan every workspace without a version reads as.
    rows[0] = {"plan": "free", "status": "active", "grants": {}, "in_grace": False}
    rows[0] |= {"gating_bundle": None, "effective_until": None}
    # Reads only ever answered committed versions, never going back.
    seen_versions = [read["version"] for read in reader.seen]
    assert seen_versions == sorted(seen_versions) and seen_versions[-1] == 7
    assert all(same_content(read, rows[read["version"]]) for read in reader.seen)

    received = stack.receiver.of(ws)
    assert all(r.signed for r in received)
    order = [r.version for r in received]
    assert order == sorted(order), order  # never an older version after a newer one
    delivered = stack.receiver.delivered()
    assert max(r.version for r in delivered if r.body["workspace_id"] == ws) == 7
    for notice in received:
        assert notice.id == f"ent_{ws}_{notice.version}"
        assert notice.body["type"] == "workspace.entitlements.updated"
        assert same_content(notice.body["entitlements"], rows[notice.version])
    logged = await stack.notices(workspace_id)
    assert logged[-1]["status"] == "delivered" and logged[-1]["attempts"] == 1
    assert {n["status"] for n in logged} <= {"delivered", "superseded"}


async def _update_product(stack: Stack, product_id: str, grants: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.emulator_url, timeout=10) as http:
        response = await http.post(
            f"/v1/products/{product_id}",
            data={"metadata[grants]": grants},
            headers={"Authorization": f"Bearer {stack.settings.stripe_secret_key}"},
        )
        response.raise_for_status()
        product: dict[str, Any] = response.json()
        return product
