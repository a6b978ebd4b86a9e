"""Starting a subscription with its first invoice, for Checkout and `POST /v1/subscriptions`."""

from __future__ import annotations

from typing import Any

from . import invoices, objects, payment_objects, payments
from .core import Emulator, ReqInfo
from .store import Obj
from .wire import now

# How the first invoice goes: paid at once, declined, a bank debit still in flight, or not
# attempted at all (`payment_behavior=default_incomplete`).
FIRST_PAYMENTS = ("paid", "failed", "processing", "none")


def create_subscription(
    emu: Emulator,
    customer_id: str,
    line_items: list[dict[str, Any]],
    metadata: dict[str, str],
    status: str,
    *,
    trial_days: int | None = None,
    description: str | None = None,
) -> Obj:
    start = now()
    first_price = emu.store.tables["prices"][line_items[0]["price"]]
    sub = objects.subscription(
        start,
        customer_id=customer_id,
        currency=first_price["currency"],
        status=status,
        metadata=dict(metadata),
    )
    sub["description"] = description
    trial_end = start + trial_days * 86400 if trial_days else None
    if trial_end is not None:
        sub.update(trial_start=start, trial_end=trial_end)
    for line in line_items:
        price = emu.store.tables["prices"][line["price"]]
        rec = price["recurring"] or {"interval": "month", "interval_count": 1}
        # A trial is the first period; billing starts when it ends.
        end = trial_end or objects.add_interval(start, rec["interval"], rec["interval_count"])
        item = objects.subscription_item(
            start, sub["id"], price["id"], line["quantity"], start, end
        )
        emu.store.add("subscription_items", item)
        sub["items"]["data"].append(item)
    if trial_end is not None:
        sub["billing_cycle_anchor"] = trial_end
    return emu.store.add("subscriptions", sub)


def start_subscription(
    emu: Emulator,
    customer_id: str,
    line_items: list[dict[str, Any]],
    metadata: dict[str, str],
    first_payment: str,
    req: ReqInfo,
    *,
    trial_days: int | None = None,
    description: str | None = None,
) -> Obj:
    """Create the subscription and its first invoice, emitting Stripe's events in order:
    customer.subscription.created, invoice.created, invoice.finalized, then the payment's
    invoice.paid + invoice.payment_succeeded or invoice.payment_failed (none in flight)."""
    sub = create_subscription(
        emu,
        customer_id,
        line_items,
        metadata,
        "incomplete",
        trial_days=trial_days,
        description=description,
    )
    inv = emu.store.add(
        "invoices", invoices.build(emu, sub, "subscription_create", trial=bool(trial_days))
    )
    sub["latest_invoice"] = inv["id"]
    # Nothing due (a trial, or a balance credit covering it) is paid without any payment.
    outcome = "paid" if inv["amount_due"] == 0 else first_payment
    if trial_days:
        sub["status"] = "trialing"
    elif outcome == "paid":
        sub["status"] = "active"
    emu.emit("customer.subscription.created", emu.render(sub), req)
    emu.emit("invoice.created", inv, req)
    invoices.finalize(emu, inv, req)
    if outcome == "none":
        # The PaymentIntent waits for the customer to confirm it (client-side, in Stripe).
        payments.open_intent(emu, inv)
    else:
        method = payment_objects.BANK_DEBIT if outcome == "processing" else payment_objects.CARD
        invoices.attempt(emu, inv, outcome, req, method)
    return sub
