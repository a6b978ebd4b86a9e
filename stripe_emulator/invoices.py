"""Invoice objects for subscriptions: build, finalize, pay and fail, with their events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .store import Obj
from .wire import new_id, now, rand_token

if TYPE_CHECKING:
    from .core import Emulator, ReqInfo


def _line(emu: Emulator, inv_id: str, sub: Obj, item: Obj, start: int, end: int) -> Obj:
    price = emu.store.tables["prices"][item["price"]]
    product = emu.store.tables["products"].get(price["product"], {})
    amount = (price["unit_amount"] or 0) * item["quantity"]
    rec = price.get("recurring") or {}
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": price["currency"],
        "description": f"{item['quantity']} × {product.get('name', 'Item')} "
        f"(at ${price['unit_amount'] / 100:.2f} / {rec.get('interval', 'one-time')})",
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": inv_id,
        "livemode": False,
        "metadata": dict(sub["metadata"]),
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": sub["id"],
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        "period": {"end": end, "start": start},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "quantity": item["quantity"],
        "quantity_decimal": str(item["quantity"]),
        "subscription": sub["id"],
        "subtotal": amount,
        "taxes": [],
    }


def build(emu: Emulator, sub: Obj, billing_reason: str) -> Obj:
    """A draft invoice for the subscription's current period."""
    created = now()
    customer = emu.store.tables["customers"].get(sub["customer"]) or {}
    inv_id = new_id("in")
    items = sub["items"]["data"]
    start = items[0]["current_period_start"] if items else created
    end = items[0]["current_period_end"] if items else created
    lines = [_line(emu, inv_id, sub, item, start, end) for item in items]
    total = sum(line["amount"] for line in lines)
    return {
        "id": inv_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Stripe Emulator",
        "account_tax_ids": None,
        "amount_due": total,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_paid_off_stripe": 0,
        "amount_remaining": total,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "confirmation_secret": None,
        "created": created,
        "currency": sub["currency"],
        "custom_fields": None,
        "customer": sub["customer"],
        "customer_account": None,
        "customer_address": None,
        "customer_email": customer.get("email"),
        "customer_name": customer.get("name"),
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": f"/v1/invoices/{inv_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(sub["metadata"]),
                "subscription": sub["id"],
            },
            "type": "subscription_details",
        },
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": end if billing_reason == "subscription_cycle" else created,
        "period_start": start if billing_reason == "subscription_cycle" else created,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "test_clock": None,
        "total": total,
        "total_discount_amounts": [],
        "total_excluding_tax": total,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    }


def create(emu: Emulator, sub: Obj, billing_reason: str, req: ReqInfo) -> Obj:
    inv = emu.store.add("invoices", build(emu, sub, billing_reason))
    sub["latest_invoice"] = inv["id"]
    emu.emit("invoice.created", inv, req)
    return inv


def finalize(emu: Emulator, inv: Obj, req: ReqInfo) -> None:
    ts = now()
    inv.update(
        status="open",
        number=f"{rand_token(8).upper()}-{len(emu.store.tables['invoices']):04d}",
        effective_at=ts,
        hosted_invoice_url=f"https://invoice.stripe.com/i/emulator/{inv['id']}",
        invoice_pdf=f"https://pay.stripe.com/invoice/emulator/{inv['id']}/pdf",
        ending_balance=0,
    )
    inv["status_transitions"]["finalized_at"] = ts
    emu.emit("invoice.finalized", inv, req)


def attempt(emu: Emulator, inv: Obj, paid: bool, req: ReqInfo) -> None:
    """One payment attempt: paid emits invoice.paid + invoice.payment_succeeded."""
    inv["attempted"] = True
    inv["attempt_count"] += 1
    if paid:
        inv.update(
            status="paid",
            amount_paid=inv["amount_due"],
            amount_remaining=0,
            next_payment_attempt=None,
        )
        inv["status_transitions"]["paid_at"] = now()
        emu.emit("invoice.paid", inv, req)
        emu.emit("invoice.payment_succeeded", inv, req)
    else:
        # Stripe's default Smart Retries schedule the next attempt a few days later.
        inv["next_payment_attempt"] = now() + 3 * 86400
        emu.emit("invoice.payment_failed", inv, req)
