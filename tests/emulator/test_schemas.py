"""Every object the emulator serves validates against Stripe's OpenAPI schemas (strictly)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emu_support import SEED_ENV, check, check_list

from stripe_emulator.testing import EmulatorServer

pytestmark = pytest.mark.asyncio


async def test_every_served_object_matches_the_spec(emu: EmulatorServer) -> None:
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    async with httpx.AsyncClient(base_url=emu.url, headers=headers) as h:

        async def get(path: str, **params: Any) -> Any:
            resp = await h.get(path, params=params)
            assert resp.status_code == 200, resp.text
            return resp.json()

        async def post(path: str, data: dict[str, Any]) -> Any:
            resp = await h.post(path, data=data)
            assert resp.status_code == 200, resp.text
            return resp.json()

        cus = await post(
            "/v1/customers", {"email": "v@x.io", "name": "V", "metadata[workspace_id]": "w"}
        )
        check(cus)
        key = f"formsandbox:{SEED_ENV}:pro:monthly:usd"
        prices = await get("/v1/prices", **{"lookup_keys[]": key, "expand[]": "data.product"})
        check_list(prices)
        price = prices["data"][0]
        check(price["product"])
        check(await get("/v1/products/" + price["product"]["id"]))
        check_list(await get("/v1/products"))
        session = await post(
            "/v1/checkout/sessions",
            {
                "mode": "subscription",
                "customer": cus["id"],
                "line_items[0][price]": price["id"],
                "line_items[0][quantity]": "2",
                "success_url": "https://a.test/ok",
                "subscription_data[metadata][w]": "1",
            },
        )
        check(session)
        await emu.control("POST", f"/_emulator/checkout/sessions/{session['id']}/complete", {})
        done = await get(
            f"/v1/checkout/sessions/{session['id']}",
            **{"expand[]": ["line_items", "subscription", "customer"]},
        )
        check(done)
        check_list(done["line_items"], "item")
        check(done["subscription"])
        check_list(await get("/v1/checkout/sessions"))
        check_list(await get(f"/v1/checkout/sessions/{session['id']}/line_items"), "item")
        sub = await get(
            f"/v1/subscriptions/{done['subscription']['id']}", **{"expand[]": "latest_invoice"}
        )
        check(sub)
        check(sub["latest_invoice"])
        for item in sub["items"]["data"]:
            check(item)
        check_list(await get("/v1/subscription_items", subscription=sub["id"]))
        check_list(await get("/v1/subscriptions", status="all"))
        await emu.control("POST", f"/_emulator/subscriptions/{sub['id']}/invoice", {"paid": False})
        check_list(await get("/v1/invoices", limit=100))
        inv = await get(f"/v1/invoices/{sub['latest_invoice']['id']}")
        check(inv)
        check_list(await get(f"/v1/invoices/{inv['id']}/lines"), "line_item")
        portal = await post(
            "/v1/billing_portal/sessions", {"customer": cus["id"], "return_url": "https://a.test"}
        )
        check(portal)
        expired = await post(
            "/v1/checkout/sessions",
            {
                "mode": "subscription",
                "line_items[0][price]": price["id"],
                "line_items[0][quantity]": "1",
            },
        )
        check(await post(f"/v1/checkout/sessions/{expired['id']}/expire", {}))
        updated = await post(f"/v1/subscriptions/{sub['id']}", {"cancel_at_period_end": "true"})
        check(updated)
        deleted = await h.delete(f"/v1/customers/{cus['id']}")
        check(deleted.json())
        check(await get(f"/v1/customers/{cus['id']}"))
        events = await get("/v1/events", limit=100)
        check_list(events)
        assert len(events["data"]) > 10
        for event in events["data"]:
            check(event["data"]["object"])
            check(await get(f"/v1/events/{event['id']}"))
        err = await h.get("/v1/customers/cus_nope")
        check(err.json(), "error")
