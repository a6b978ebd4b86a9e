"""The money objects (payments, charges, refunds, credit invoices) validate strictly too."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emu_support import SEED_ENV, check, check_list

from stripe_emulator.testing import EmulatorServer

pytestmark = pytest.mark.asyncio


async def test_money_objects_match_the_spec(emu: EmulatorServer) -> None:
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    async with httpx.AsyncClient(base_url=emu.url, headers=headers) as h:

        async def get(path: str, **params: Any) -> Any:
            resp = await h.get(path, params=params)
            assert resp.status_code == 200, resp.text
            return resp.json()

        async def post(path: str, data: dict[str, Any], status: int = 200) -> Any:
            resp = await h.post(path, data=data)
            assert resp.status_code == status, resp.text
            return resp.json()

        async def complete(outcome: str) -> dict[str, Any]:
            session = await post(
                "/v1/checkout/sessions",
                {
                    "mode": "subscription",
                    "customer": cus["id"],
                    "line_items[0][price]": price,
                    "line_items[0][quantity]": "1",
                },
            )
            done = await emu.control(
                "POST",
                f"/_emulator/checkout/sessions/{session['id']}/complete",
                {"outcome": outcome},
            )
            check(done)
            return dict(done)

        async def first_intent(sub_id: str) -> dict[str, Any]:
            expand = {"expand[]": "latest_invoice.payments"}
            sub = await get(f"/v1/subscriptions/{sub_id}", **expand)
            check(sub)
            check(sub["latest_invoice"])
            check_list(sub["latest_invoice"]["payments"], "invoice_payment")
            inv = await get(
                f"/v1/invoices/{sub['latest_invoice']['id']}",
                **{"expand[]": "payments.data.payment.payment_intent"},
            )
            check(inv)
            intent_id = inv["payments"]["data"][0]["payment"]["payment_intent"]["id"]
            intent: dict[str, Any] = await get(
                f"/v1/payment_intents/{intent_id}", **{"expand[]": "latest_charge"}
            )
            check(intent)
            return intent

        cus = await post("/v1/customers", {"email": "m@x.io", "name": "M"})
        key = f"formsandbox:{SEED_ENV}:pro:monthly:usd"
        price = (await get("/v1/prices", **{"lookup_keys[]": key}))["data"][0]["id"]

        paid = await first_intent((await complete("paid"))["subscription"])
        assert paid["status"] == "succeeded"
        check(paid["latest_charge"])
        declined = await first_intent((await complete("incomplete"))["subscription"])
        assert declined["last_payment_error"]["code"] == "card_declined"
        check(declined["latest_charge"])
        debit = await complete("processing")
        pending = await first_intent(debit["subscription"])
        assert pending["latest_charge"]["status"] == "pending"
        settled = await emu.control(
            "POST", f"/_emulator/checkout/sessions/{debit['id']}/settle", {"succeeded": True}
        )
        check(settled)
        returned = await complete("processing")
        await emu.control(
            "POST", f"/_emulator/checkout/sessions/{returned['id']}/settle", {"succeeded": False}
        )
        failed = await first_intent(returned["subscription"])
        assert failed["last_payment_error"]["code"] == "insufficient_funds"
        check(failed["latest_charge"])

        direct = await post(
            "/v1/subscriptions",
            {"customer": cus["id"], "items[0][price]": price, "metadata[w]": "1"},
        )
        check(direct)
        waiting = await post(
            "/v1/subscriptions",
            {
                "customer": cus["id"],
                "items[0][price]": price,
                "payment_behavior": "default_incomplete",
            },
        )
        check(await first_intent(waiting["id"]))
        trial = await post(
            "/v1/subscriptions",
            {"customer": cus["id"], "items[0][price]": price, "trial_period_days": "3"},
        )
        check(trial)
        check(await get(f"/v1/invoices/{trial['latest_invoice']}", **{"expand[]": "payments"}))

        refund = await post("/v1/refunds", {"payment_intent": paid["id"], "amount": "700"})
        check(refund)
        check(await get(f"/v1/refunds/{refund['id']}"))
        check(await post("/v1/refunds", {"charge": paid["latest_charge"]["id"]}))
        check_list(await get("/v1/refunds", payment_intent=paid["id"]))
        check_list(await get("/v1/refunds"))
        check(await get(f"/v1/charges/{paid['latest_charge']['id']}"))
        check_list(await get("/v1/charges", limit=100))
        check(await get(f"/v1/payment_intents/{paid['id']}"))
        check_list(await get("/v1/invoice_payments", limit=100))
        row = (await get("/v1/invoice_payments", invoice=paid_invoice(paid, direct)))["data"]
        check(await get(f"/v1/invoice_payments/{row[0]['id']}", **{"expand[]": "invoice"}))

        canceled = await h.request(
            "DELETE",
            f"/v1/subscriptions/{direct['id']}",
            data={"prorate": "true", "invoice_now": "true"},
        )
        assert canceled.status_code == 200, canceled.text
        check(canceled.json())
        final = await get(f"/v1/invoices/{canceled.json()['latest_invoice']}")
        check(final)
        check_list(await get(f"/v1/invoices/{final['id']}/lines"), "line_item")
        check(await get(f"/v1/customers/{cus['id']}"))

        events = await get("/v1/events", limit=100)
        check_list(events)
        for event in events["data"]:
            check(event["data"]["object"])
        for bad in (
            await h.post("/v1/refunds", data={"payment_intent": paid["id"]}),
            await h.get("/v1/customers", headers={"Stripe-Version": "2011-01-01"}),
        ):
            assert bad.status_code == 400
            check(bad.json(), "error")


def paid_invoice(intent: dict[str, Any], sub: dict[str, Any]) -> str:
    """The invoice a direct subscription paid (any invoice id works for the list filter)."""
    assert intent["status"] == "succeeded"
    return str(sub["latest_invoice"])
