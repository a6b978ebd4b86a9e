"""Invoice objects for subscriptions: build, finalize (customer balance), pay and fail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import payment_objects, payments
from .store import Obj
from .wire import new_id, now, rand_token

if TYPE_CHECKING:
    from .core import Emulator, ReqInfo


def line(
    emu: Emulator, inv_id: str, sub: Obj, item: Obj, start: int, end: int, *, trial: bool = False
) -> Obj:
    """One subscription item's line for a period; a trial period is free."""
    price = emu.store.tables["prices"][item["price"]]
    product = emu.store.tables["products"].get(price["product"], {})
    amount = 0 if trial else (price["unit_amount"] or 0) * item["quantity"]
    rec = price.get("recurring") or {}
    description = (
        f"Trial period for {product.get('name', 'Item')}"
        if trial
        else f"{item['quantity']} × {product.get('name', 'Item')} "
        f"(at ${price['unit_amount'] / 100:.2f} / {rec.get('interval', 'one-time')})"
    )
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": price["currency"],
        "description": description,
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


def build(
    emu: Emulator, sub: Obj, billing_reason: str, *, items: bool = True, trial: bool = False
) -> Obj:
    """A draft invoice for the subscription's current period (`items`), plus the customer's
    pending invoice items (proration credits), which Stripe sweeps into the next invoice."""
    created = now()
    customer = emu.store.tables["customers"].get(sub["customer"]) or {}
    inv_id = new_id("in")
    subs_items = sub["items"]["data"]
    start = subs_items[0]["current_period_start"] if subs_items else created
    end = subs_items[0]["current_period_end"] if subs_items else created
    lines = (
        [line(emu, inv_id, sub, item, start, end, trial=trial) for item in subs_items]
        if items
        else []
    )
    for pending in emu.store.pending_lines.pop(sub["customer"], []):
        pending["invoice"] = inv_id
        lines.append(pending)
    total = sum(entry["amount"] for entry in lines)
    balance = customer.get("balance", 0)
    due = max(0, total + balance)
    return {
        "id": inv_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Stripe Emulator",
        "account_tax_ids": None,
        "amount_due": due,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_paid_off_stripe": 0,
        "amount_remaining": due,
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
        "starting_balance": balance,
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


def create(
    emu: Emulator, sub: Obj, billing_reason: str, req: ReqInfo, *, items: bool = True
) -> Obj:
    inv = emu.store.add("invoices", build(emu, sub, billing_reason, items=items))
    sub["latest_invoice"] = inv["id"]
    emu.emit("invoice.created", inv, req)
    return inv


def finalize(emu: Emulator, inv: Obj, req: ReqInfo) -> None:
    """Open the invoice, applying the customer's balance (a credit lowers what is due)."""
    ts = now()
    cus = emu.store.tables["customers"].get(inv["customer"])
    starting = cus["balance"] if cus else 0
    reached = inv["total"] + starting
    inv.update(
        status="open",
        number=f"{rand_token(8).upper()}-{len(emu.store.tables['invoices']):04d}",
        effective_at=ts,
        hosted_invoice_url=f"https://invoice.stripe.com/i/emulator/{inv['id']}",
        invoice_pdf=f"https://pay.stripe.com/invoice/emulator/{inv['id']}/pdf",
        starting_balance=starting,
        ending_balance=min(0, reached),
        amount_due=max(0, reached),
        amount_remaining=max(0, reached),
    )
    inv["status_transitions"]["finalized_at"] = ts
    emu.emit("invoice.finalized", inv, req)
    if cus is not None and cus["balance"] != inv["ending_balance"]:
        previous = {"balance": cus["balance"]}
        cus["balance"] = inv["ending_balance"]
        emu.emit("customer.updated", cus, req, previous)


def attempt(
    emu: Emulator, inv: Obj, outcome: str, req: ReqInfo, method: str = payment_objects.CARD
) -> str:
    """One payment attempt, "paid" / "failed" / "processing" (a bank debit in flight).

    Returns what happened: an invoice with nothing due is paid without any payment.
    """
    if inv["amount_due"] == 0:
        mark_paid(emu, inv, req)
        return "paid"
    inv["attempted"] = True
    inv["attempt_count"] += 1
    payments.charge_invoice(emu, inv, outcome, method)
    if outcome == "paid":
        mark_paid(emu, inv, req)
    elif outcome == "processing":
        # Stripe neither retries nor announces anything while the debit is in flight.
        inv["next_payment_attempt"] = None
    else:
        mark_failed(emu, inv, req)
    return outcome


def mark_paid(emu: Emulator, inv: Obj, req: ReqInfo) -> None:
    """Paid: emits invoice.paid + invoice.payment_succeeded."""
    inv.update(
        status="paid",
        amount_paid=inv["amount_due"],
        amount_remaining=0,
        next_payment_attempt=None,
    )
    inv["status_transitions"]["paid_at"] = now()
    emu.emit("invoice.paid", inv, req)
    emu.emit("invoice.payment_succeeded", inv, req)


def mark_failed(emu: Emulator, inv: Obj, req: ReqInfo, *, retry: bool = True) -> None:
    # Stripe's default Smart Retries schedule the next attempt a few days later.
    inv["next_payment_attempt"] = now() + 3 * 86400 if retry else None
    emu.emit("invoice.payment_failed", inv, req)
