"""Refunds of a succeeded charge, found directly or through its PaymentIntent, within its amount."""

from __future__ import annotations

from typing import Any

from . import payment_objects
from .core import Emulator, ReqInfo
from .errors import StripeError, invalid_param
from .store import Obj
from .wire import get_int, get_str, merge_metadata, now

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _money(amount: int, currency: str) -> str:
    # Stripe's refund errors show amounts the way its Dashboard does.
    return f"${amount / 100:.2f}" if currency == "usd" else f"{amount / 100:.2f} {currency.upper()}"


def refundable_charge(emu: Emulator, params: dict[str, Any]) -> Obj:
    store = emu.store
    charge_id = get_str(params, "charge") or None
    intent_id = get_str(params, "payment_intent") or None
    if charge_id and intent_id:
        raise StripeError(
            400, "You can only specify one of these parameters: charge, payment_intent."
        )
    if intent_id:
        intent = store.get("payment_intents", intent_id, param="payment_intent", status=400)
        charge = store.tables["charges"].get(intent["latest_charge"] or "")
        if intent["status"] != "succeeded" or charge is None:
            raise StripeError(
                400,
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        return charge
    if not charge_id:
        raise StripeError(
            400,
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            replayable=False,
        )
    charge = store.get("charges", charge_id, param="charge", status=400)
    if charge["status"] != "succeeded":
        raise StripeError(
            400,
            f"Charge {charge_id} cannot be refunded because its status is {charge['status']}.",
            param="charge",
        )
    return charge


def create_refund(emu: Emulator, params: dict[str, Any], req: ReqInfo) -> Obj:
    """Full refund by default. Events: refund.created, then charge.refunded."""
    charge = refundable_charge(emu, params)
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise StripeError(
            400,
            f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
        )
    amount = get_int(params, "amount")
    if amount is None:
        amount = remaining
    if amount < 1:
        raise invalid_param(
            "amount", "This value must be greater than or equal to 1.", "parameter_invalid_integer"
        )
    if amount > remaining:
        cur = charge["currency"]
        left = (
            f"charge amount ({_money(charge['amount'], cur)})"
            if charge["amount_refunded"] == 0
            else f"unrefunded amount on charge ({_money(remaining, cur)})"
        )
        raise StripeError(
            400,
            f"Refund amount ({_money(amount, cur)}) is greater than {left}",
            code="amount_too_large",
            param="amount",
        )
    currency = get_str(params, "currency")
    if currency and currency.lower() != charge["currency"]:
        raise invalid_param(
            "currency", f"The currency must match the charge's currency ({charge['currency']})."
        )
    reason = get_str(params, "reason") or None
    if reason is not None and reason not in REASONS:
        raise invalid_param("reason", f"Invalid reason: must be one of {', '.join(REASONS)}")
    refund = payment_objects.refund(
        now(),
        charge_obj=charge,
        amount=amount,
        reason=reason,
        metadata=merge_metadata({}, params.get("metadata")),
    )
    emu.store.add("refunds", refund)
    emu.store.link(charge["id"], refund["id"])
    previous: dict[str, Any] = {"amount_refunded": charge["amount_refunded"]}
    charge["amount_refunded"] += amount
    if charge["amount_refunded"] == charge["amount"]:
        previous["refunded"] = False
        charge["refunded"] = True
    emu.emit("refund.created", refund, req)
    emu.emit("charge.refunded", charge, req, previous)
    return refund
