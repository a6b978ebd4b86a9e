"""Proration on immediate cancellation: credit for unused time, pending or invoiced at once."""

from __future__ import annotations

import datetime as dt

from . import invoices
from .core import Emulator, ReqInfo
from .store import Obj

# Statuses whose current period was charged for: only those leave unused time to credit.
CHARGED = ("active", "past_due", "unpaid")


def credit_lines(emu: Emulator, sub: Obj, at: int) -> list[Obj]:
    """One negative line per item for the unused part of its current period (to the second)."""
    if sub["status"] not in CHARGED:
        return []
    store = emu.store
    latest = store.tables["invoices"].get(sub["latest_invoice"] or "")
    lines: list[Obj] = []
    for item in sub["items"]["data"]:
        start, end = item["current_period_start"], item["current_period_end"]
        if end <= at or end <= start:
            continue
        price = store.tables["prices"][item["price"]]
        full = (price["unit_amount"] or 0) * item["quantity"]
        unused = round(full * (end - at) / (end - start))
        if unused <= 0:
            continue
        entry = invoices.line(emu, "", sub, item, at, end)
        product = store.tables["products"].get(price["product"], {})
        after = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%d %b %Y")
        credited = [
            line["id"]
            for line in (latest or {}).get("lines", {}).get("data", [])
            if (line["parent"].get("subscription_item_details") or {}).get("subscription_item")
            == item["id"]
        ]
        details = entry["parent"]["subscription_item_details"]
        details["proration"] = True
        details["proration_details"] = {
            "credited_items": {"invoice": latest["id"], "invoice_line_items": credited}
            if latest is not None and credited
            else None
        }
        entry.update(
            amount=-unused,
            subtotal=-unused,
            description=f"Unused time on {item['quantity']} × "
            f"{product.get('name', 'Item')} after {after}",
        )
        lines.append(entry)
    return lines


def queue_credit(emu: Emulator, sub: Obj, at: int) -> None:
    """The credit becomes pending invoice items, swept into the customer's next invoice."""
    credits = credit_lines(emu, sub, at)
    if credits:
        emu.store.pending_lines.setdefault(sub["customer"], []).extend(credits)


def invoice_pending(emu: Emulator, sub: Obj, req: ReqInfo) -> Obj | None:
    """Bill pending items on a final invoice now; a negative total goes to the customer's
    balance. Events: invoice.created, invoice.finalized, customer.updated (balance),
    invoice.paid, invoice.payment_succeeded."""
    if not emu.store.pending_lines.get(sub["customer"]):
        return None
    inv = invoices.create(emu, sub, "subscription_update", req, items=False)
    invoices.finalize(emu, inv, req)
    invoices.attempt(emu, inv, "paid", req)
    return inv
