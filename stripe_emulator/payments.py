"""An invoice's payment: its PaymentIntent, the charge of each attempt, and delayed debits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import payment_objects
from .errors import StripeError
from .store import Obj
from .wire import new_id, now

if TYPE_CHECKING:
    from .core import Emulator

# The charge status each attempt outcome leaves behind.
CHARGE_STATUS = {"paid": "succeeded", "failed": "failed", "processing": "pending"}


def invoice_payments(emu: Emulator, inv: Obj) -> list[Obj]:
    return emu.store.children("invoice_payments", inv["id"])


def intent_of(emu: Emulator, inv: Obj) -> Obj | None:
    """The invoice's default PaymentIntent, once one exists."""
    for row in invoice_payments(emu, inv):
        if row["is_default"]:
            return emu.store.tables["payment_intents"][row["payment"]["payment_intent"]]
    return None


def open_intent(emu: Emulator, inv: Obj) -> tuple[Obj, Obj]:
    """The invoice's PaymentIntent and InvoicePayment, created on first need."""
    store = emu.store
    for row in invoice_payments(emu, inv):
        if row["is_default"]:
            return store.tables["payment_intents"][row["payment"]["payment_intent"]], row
    ts = now()
    first = inv["billing_reason"] == "subscription_create"
    intent = payment_objects.payment_intent(
        ts,
        amount=inv["amount_due"],
        currency=inv["currency"],
        customer=inv["customer"],
        description="Subscription creation" if first else "Subscription update",
    )
    store.add("payment_intents", intent)
    row = payment_objects.invoice_payment(ts, invoice=inv, intent_id=intent["id"])
    store.add("invoice_payments", row)
    store.link(inv["id"], row["id"])
    return intent, row


def charge_invoice(emu: Emulator, inv: Obj, outcome: str, method: str) -> Obj:
    """Confirm the invoice's PaymentIntent once more: a new charge in the outcome's state."""
    intent, row = open_intent(emu, inv)
    cus = emu.store.tables["customers"].get(inv["customer"]) or {}
    # Each attempt brings the payment method the customer just entered (or had on file).
    intent["payment_method"] = new_id("pm")
    intent["payment_method_types"] = [method]
    charge = payment_objects.charge(
        now(),
        intent=intent,
        method=method,
        status=CHARGE_STATUS[outcome],
        billing_email=cus.get("email"),
        billing_name=cus.get("name"),
    )
    emu.store.add("charges", charge)
    intent["latest_charge"] = charge["id"]
    if outcome == "paid":
        _succeeded(intent, row)
    elif outcome == "processing":
        intent.update(status="processing", last_payment_error=None)
    else:
        intent.update(
            status="requires_payment_method",
            last_payment_error=payment_objects.payment_error(method, charge["id"]),
        )
    return charge


def pending_charge(emu: Emulator, inv: Obj) -> tuple[Obj, Obj] | None:
    """The intent and charge of a bank debit still in flight for this invoice, if any."""
    intent = intent_of(emu, inv)
    if intent is None or intent["status"] != "processing" or not intent["latest_charge"]:
        return None
    return intent, emu.store.tables["charges"][intent["latest_charge"]]


def settle(emu: Emulator, inv: Obj, succeeded: bool) -> Obj:
    """The bank's answer to a delayed debit: the charge succeeds or fails."""
    found = pending_charge(emu, inv)
    if found is None:
        raise StripeError(400, f"Invoice {inv['id']} has no payment in processing.")
    intent, charge = found
    method = charge["payment_method_details"]["type"]
    if succeeded:
        charge.update(status="succeeded", paid=True)
        _succeeded(intent, open_intent(emu, inv)[1])
    else:
        decline = payment_objects.DECLINES[method]
        charge.update(
            status="failed",
            paid=False,
            captured=False,
            amount_captured=0,
            balance_transaction=None,
            failure_code=decline["code"],
            failure_message=decline["message"],
        )
        intent.update(
            status="requires_payment_method",
            last_payment_error=payment_objects.payment_error(method, charge["id"]),
        )
    charge["outcome"] = payment_objects.outcome(method, charge["status"])
    return charge


def _succeeded(intent: Obj, row: Obj) -> None:
    intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None)
    row.update(status="paid", amount_paid=row["amount_requested"])
    row["status_transitions"]["paid_at"] = now()
