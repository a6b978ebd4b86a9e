"""Saved cards: the PaymentMethod a customer enters in the Billing Portal, and the events of
making it the default for invoices and subscriptions."""

from __future__ import annotations

import hashlib
from typing import Any

from . import lifecycle
from .core import Emulator, ReqInfo
from .store import Obj
from .wire import new_id, now

# Stripe's test cards a person can pick on the portal page: number → (brand, funding).
TEST_CARDS: dict[str, tuple[str, str]] = {
    "4242424242424242": ("visa", "credit"),
    "5555555555554444": ("mastercard", "credit"),
    "4000056655665556": ("visa", "debit"),
}


def card_method(created: int, customer: str, number: str, email: str | None) -> Obj:
    """A card PaymentMethod attached to `customer`, as `GET /v1/payment_methods/{id}` shows it."""
    brand, funding = TEST_CARDS[number]
    return {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "always",
        "billing_details": {
            "address": None,
            "email": email,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "card": {
            "brand": brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass",
            },
            "country": "US",
            "display_brand": brand,
            "exp_month": 12,
            "exp_year": 2034,
            # Stable per number, like Stripe's fingerprint of a card.
            "fingerprint": hashlib.sha256(number.encode()).hexdigest()[:16],
            "funding": funding,
            "generated_from": None,
            "last4": number[-4:],
            "networks": {"available": [brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created,
        "customer": customer,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def default_card(emu: Emulator, customer: Obj) -> Obj | None:
    """The card the customer's invoices are charged to, if one was saved."""
    pm_id = (customer.get("invoice_settings") or {}).get("default_payment_method")
    return emu.store.tables["payment_methods"].get(pm_id or "")


def update_default_card(emu: Emulator, customer: Obj, number: str, req: ReqInfo) -> Obj:
    """The portal's "Update payment method": attach the new card, make it the customer's
    invoice default, and the default of each live subscription that named one.

    Events, in Stripe's order: payment_method.attached, customer.updated (with the old
    `invoice_settings` as previous_attributes), then customer.subscription.updated for each
    subscription whose `default_payment_method` changed.
    """
    if number not in TEST_CARDS:
        raise ValueError(f"unknown test card: {number}")
    method = card_method(now(), customer["id"], number, customer.get("email"))
    emu.store.add("payment_methods", method)
    emu.emit("payment_method.attached", method, req)
    settings: dict[str, Any] = customer["invoice_settings"]
    # previous_attributes names only the nested key that changed, as Stripe's does.
    previous = {"invoice_settings": {"default_payment_method": settings["default_payment_method"]}}
    customer["invoice_settings"] = {**settings, "default_payment_method": method["id"]}
    emu.emit("customer.updated", customer, req, previous)
    for sub in emu.store.tables["subscriptions"].values():
        if (
            sub["customer"] == customer["id"]
            and sub["status"] not in lifecycle.ENDED
            and sub["default_payment_method"] is not None
        ):
            changed = {"default_payment_method": sub["default_payment_method"]}
            sub["default_payment_method"] = method["id"]
            emu.emit("customer.subscription.updated", emu.render(sub), req, changed)
    return method
