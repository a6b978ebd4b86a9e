"""Tenants and their Stripe lifecycles in the emulator, its events, and the plan Stripe says."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.tokens import mint_token

# Not the service's key: the counting emulator logs only the service's own calls.
from stripe_emulator.config import DEFAULT_SECRET_KEY
from tests.support import price_id

DRIVER_KEY = "sk_test_faults_driver"
# The emulator's own key: its control routes take it as a bearer token.
CONTROL = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
ENTITLED = ("active", "trialing", "past_due")
PLAN_RANK = {"free": 0, "pro": 1, "business": 2}
PRICE_PLAN = {price_id(p, i): p for p in ("pro", "business") for i in ("monthly", "yearly")}


@dataclass
class Tenant:
    """A workspace with an owner and a mapped Stripe customer, as checkout leaves it."""

    workspace_id: uuid.UUID
    owner_id: uuid.UUID
    customer_id: str
    subscription_id: str | None = None

    def bearer(self, jwt_secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(jwt_secret, self.owner_id)}"}


class Shop:
    """Drives Stripe (the emulator) the way customers and Stripe itself would."""

    def __init__(self, emulator_url: str, engine: AsyncEngine) -> None:
        self.url = emulator_url
        self.engine = engine
        self.http = httpx.AsyncClient(
            base_url=emulator_url, timeout=30, headers={"Authorization": f"Bearer {DRIVER_KEY}"}
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _ok(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise AssertionError(f"emulator said {response.status_code}: {response.text[:300]}")
        return response.json()

    async def post(self, path: str, **data: Any) -> Any:
        return await self._ok(await self.http.post(path, data=data))

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self._ok(
            await self.http.post(f"/_emulator/{path}", json=body or {}, headers=CONTROL)
        )

    async def state(self) -> dict[str, Any]:
        return dict(await self._ok(await self.http.get("/_emulator/state", headers=CONTROL)))

    async def api_faults(self, rules: list[dict[str, Any]]) -> None:
        """Stripe answers these modes for the next `count` matching calls (emulator rules)."""
        await self.control("config", {"api_faults": rules})

    async def service_calls(self) -> list[tuple[float, str, str]]:
        """Arrival times of the service's own Stripe calls (the counting emulator's log)."""
        body = await self._ok(await self.http.get("/_faults/stripe-calls"))
        return [(float(t), str(m), str(p)) for t, m, p in body["calls"]]

    async def tenants(self, count: int, *, customer: bool = True) -> list[Tenant]:
        made: list[Tenant] = []
        for _ in range(count):
            cus = (await self.post("/v1/customers"))["id"] if customer else ""
            made.append(Tenant(uuid.uuid4(), uuid.uuid4(), cus))
        async with self.engine.begin() as db:
            for t in made:
                await db.execute(
                    text("INSERT INTO workspaces (id, name) VALUES (:w, 'faults')"),
                    {"w": t.workspace_id},
                )
                await db.execute(
                    text("INSERT INTO workspace_members (workspace_id, user_id, role) "
                         "VALUES (:w, :u, 'owner')"),
                    {"w": t.workspace_id, "u": t.owner_id},
                )
                if customer:
                    await db.execute(
                        text("INSERT INTO workspace_billing_customers (workspace_id, "
                             "stripe_customer_id) VALUES (:w, :c)"),
                        {"w": t.workspace_id, "c": t.customer_id},
                    )
        return made

    async def buy(self, tenant: Tenant, plan: str = "pro") -> str:
        """A paid checkout: 7 events, 3 of them handled."""
        session = await self.post(
            "/v1/checkout/sessions",
            mode="subscription",
            customer=tenant.customer_id,
            client_reference_id=str(tenant.workspace_id),
            **{"line_items[0][price]": price_id(plan), "line_items[0][quantity]": "1"},
            success_url="http://app.test/ok",
        )
        done = await self.control(
            f"checkout/sessions/{session['id']}/complete", {"outcome": "paid"}
        )
        tenant.subscription_id = str(done["subscription"])
        return tenant.subscription_id

    async def change_plan(self, tenant: Tenant, plan: str) -> None:
        """One `customer.subscription.updated`."""
        await self.control(f"subscriptions/{tenant.subscription_id}/update",
                           {"price": price_id(plan)})

    async def renew(self, tenant: Tenant, paid: bool = True) -> None:
        """An invoice cycle: 5 events paid (2 handled), 4 unpaid (2 handled)."""
        await self.control(f"subscriptions/{tenant.subscription_id}/invoice", {"paid": paid})

    async def cancel_at_period_end(self, tenant: Tenant, flag: bool) -> None:
        await self.control(f"subscriptions/{tenant.subscription_id}/update",
                           {"cancel_at_period_end": flag})

    async def cancel_now(self, tenant: Tenant) -> None:
        """One `customer.subscription.deleted`."""
        await self._ok(await self.http.delete(f"/v1/subscriptions/{tenant.subscription_id}"))

    async def events(self) -> list[dict[str, Any]]:
        """Every event of the account, oldest first (the Events API)."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = await self._ok(await self.http.get("/v1/events", params=params))
            found.extend(page["data"])
            if not page["has_more"]:
                return list(reversed(found))
            params["starting_after"] = page["data"][-1]["id"]

    async def truth(self, tenants: list[Tenant]) -> dict[str, str]:
        """The plan Stripe says each workspace has: its best entitled subscription, or free."""
        plans: dict[str, str] = {}
        for tenant in tenants:
            plan = "free"
            if tenant.customer_id:
                listed = await self._ok(await self.http.get(
                    "/v1/subscriptions",
                    params={"customer": tenant.customer_id, "status": "all", "limit": 100},
                ))
                for sub in listed["data"]:
                    if sub["status"] not in ENTITLED:
                        continue
                    candidate = PRICE_PLAN[sub["items"]["data"][0]["price"]["id"]]
                    plan = max(plan, candidate, key=PLAN_RANK.__getitem__)
            plans[str(tenant.workspace_id)] = plan
        return plans
