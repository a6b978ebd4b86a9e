"""The webhook benchmark's events: real lifecycles bought in the emulator, read back from its
Events API, signed with the webhook secret and delivered over keep-alive HTTP/1.1."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from bench.support import EMULATOR_KEY, SECRET, RawHttp, in_lanes
from core.db import create_db_engine
from stripe_emulator.seed import catalog_ids, lookup_key
from stripe_emulator.webhooks import sign


class Catalog:
    """Buys subscriptions in the emulator and reads back the events it recorded."""

    def __init__(self, emulator_url: str, database_url: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=emulator_url, timeout=30,
            headers={"Authorization": f"Bearer {EMULATOR_KEY}"},
        )
        self.database_url = database_url

    def price(self, plan: str) -> str:
        return catalog_ids("bench")[lookup_key("bench", plan, "monthly")]

    async def buy(self, count: int) -> list[tuple[uuid.UUID, str]]:
        """`count` workspaces, each with a mapped customer and a paid `pro` subscription."""
        bought: list[tuple[uuid.UUID, str]] = []
        engine = create_db_engine(self.database_url)
        try:
            async with engine.begin() as db:
                for _ in range(count):
                    workspace_id = uuid.uuid4()
                    customer = (await self.http.post("/v1/customers", data={})).json()["id"]
                    await db.execute(
                        text("INSERT INTO workspaces (id, name) VALUES (:w, 'bench')"),
                        {"w": workspace_id},
                    )
                    await db.execute(
                        text("INSERT INTO workspace_billing_customers (workspace_id, "
                             "stripe_customer_id) VALUES (:w, :c)"),
                        {"w": workspace_id, "c": customer},
                    )
                    session = (await self.http.post("/v1/checkout/sessions", data={
                        "mode": "subscription", "customer": customer,
                        "client_reference_id": str(workspace_id),
                        "line_items[0][price]": self.price("pro"),
                        "line_items[0][quantity]": "1",
                        "subscription_data[metadata][workspace_id]": str(workspace_id),
                        "success_url": "http://app.test/ok",
                    })).json()
                    done = await self.http.post(
                        f"/_emulator/checkout/sessions/{session['id']}/complete",
                        json={"outcome": "paid"},
                    )
                    bought.append((workspace_id, done.json()["subscription"]))
        finally:
            await engine.dispose()
        return bought

    async def change_plan(self, subscription_id: str, plan: str) -> None:
        await self.http.post(f"/_emulator/subscriptions/{subscription_id}/update",
                             json={"price": self.price(plan)})

    async def events_since(self, seen: set[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = (await self.http.get("/v1/events", params=params)).json()
            fresh = [e for e in page["data"] if e["id"] not in seen]
            found.extend(fresh)
            if not page["has_more"] or len(fresh) < len(page["data"]):
                break
            params["starting_after"] = page["data"][-1]["id"]
        seen.update(e["id"] for e in found)
        return list(reversed(found))


def signed_body(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    payload = json.dumps(event, indent=2)
    return payload.encode(), {"Stripe-Signature": sign(payload, SECRET),
                              "Content-Type": "application/json"}


async def deliver_shuffled(
    api: RawHttp, events: list[dict[str, Any]], deliveries: int, lanes: int, seed: int
) -> dict[str, float]:
    """`deliveries` signed deliveries drawn from `events` (each at least once), shuffled."""
    rnd = random.Random(seed)
    picks = list(events) + [rnd.choice(events) for _ in range(deliveries - len(events))]
    rnd.shuffle(picks)
    bodies = [signed_body(e) for e in picks]

    async def one(i: int) -> None:
        status, _ = await api.post("/api/v1/stripe/webhook", *bodies[i])
        if status != 200:
            raise RuntimeError(f"webhook answered {status}")

    return await in_lanes(len(bodies), lanes, one)
