"""Checkout Session outcomes: completion (paid, declined, bank debit in flight), its settlement,
and expiry, each with the events Stripe sends."""

from __future__ import annotations

from typing import Any

from . import invoices, objects, payments
from .core import AUTOMATIC, Emulator, ReqInfo
from .errors import StripeError, invalid_param, no_such
from .store import Obj
from .subscribe import start_subscription
from .wire import now

# Control-route outcome → how the first invoice's payment goes.
OUTCOMES = {"paid": "paid", "incomplete": "failed", "processing": "processing"}


def complete_checkout(emu: Emulator, session: Obj, outcome: str, req: ReqInfo = AUTOMATIC) -> Obj:
    """Pay (or fail, or start a bank debit for) a subscription-mode session.

    Events: customer.created (no customer given), the subscription's and first invoice's
    events (see `start_subscription`), then checkout.session.completed.
    """
    if outcome not in OUTCOMES:
        raise invalid_param("outcome", "outcome must be 'paid', 'incomplete' or 'processing'")
    if session["status"] != "open":
        raise StripeError(
            400, f"This Checkout Session is {session['status']} and can no longer be paid."
        )
    store = emu.store
    customer_id = session["customer"]
    if customer_id is None:
        # Subscription mode always creates a customer when none was given.
        email = session["customer_email"] or f"{session['id'][-8:].lower()}@example.com"
        cus = objects.customer(
            now(), email=email, name=None, description=None, phone=None, metadata={}
        )
        store.add("customers", cus)
        emu.emit("customer.created", cus, req)
        customer_id = cus["id"]
    elif customer_id not in store.tables["customers"]:
        raise no_such("customer", customer_id, "customer", 400)
    sub = start_subscription(
        emu,
        customer_id,
        session["_line_items"],
        session["_subscription_metadata"],
        OUTCOMES[outcome],
        req,
    )
    inv = store.tables["invoices"][sub["latest_invoice"]]
    cus = store.tables["customers"][customer_id]
    session.update(
        status="complete",
        payment_status="paid" if inv["status"] == "paid" else "unpaid",
        url=None,  # Stripe only shows the hosted URL while the session is open
        customer=customer_id,
        subscription=sub["id"],
        customer_details={
            "address": None,
            "business_name": None,
            "email": cus["email"],
            "individual_name": None,
            "name": cus["name"],
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
    )
    emu.emit("checkout.session.completed", emu.render(session), req)
    return session


def settle_checkout(emu: Emulator, session: Obj, succeeded: bool, req: ReqInfo = AUTOMATIC) -> Obj:
    """The bank's answer to the session's delayed debit.

    Succeeded: invoice.paid, invoice.payment_succeeded, customer.subscription.updated
    (incomplete → active), checkout.session.async_payment_succeeded. Failed:
    invoice.payment_failed, customer.subscription.updated (→ incomplete_expired),
    checkout.session.async_payment_failed.
    """
    sub = emu.store.tables["subscriptions"].get(session["subscription"] or "")
    inv = emu.store.tables["invoices"].get((sub or {}).get("latest_invoice") or "")
    if (
        session["status"] != "complete"
        or session["payment_status"] != "unpaid"
        or sub is None
        or inv is None
        or payments.pending_charge(emu, inv) is None
    ):
        raise StripeError(
            400, f"Checkout Session {session['id']} has no payment in processing to settle."
        )
    payments.settle(emu, inv, succeeded)
    previous: dict[str, Any] = {"status": sub["status"]}
    if succeeded:
        invoices.mark_paid(emu, inv, req)
        if sub["status"] == "incomplete":
            sub["status"] = "active"
            emu.emit("customer.subscription.updated", emu.render(sub), req, previous)
        session["payment_status"] = "paid"
        emu.emit("checkout.session.async_payment_succeeded", emu.render(session), req)
    else:
        # An incomplete subscription whose first payment failed is never retried.
        invoices.mark_failed(emu, inv, req, retry=False)
        if sub["status"] == "incomplete":
            ts = now()
            previous["ended_at"] = sub["ended_at"]
            sub.update(status="incomplete_expired", ended_at=ts)
            emu.emit("customer.subscription.updated", emu.render(sub), req, previous)
        emu.emit("checkout.session.async_payment_failed", emu.render(session), req)
    return session


def expire_checkout(emu: Emulator, session: Obj, req: ReqInfo) -> Obj:
    """Only an open session can be expired; emits checkout.session.expired."""
    if session["status"] != "open":
        raise StripeError(
            400,
            'Only Checkout Sessions with a status in ["open"] can be expired.',
        )
    session.update(status="expired", url=None)
    emu.emit("checkout.session.expired", emu.render(session), req)
    return session
