"""Builders for PaymentIntents, Charges, InvoicePayments and Refunds in the 2026-08-26 shapes."""

from __future__ import annotations

from typing import Any

from .wire import new_id, rand_token

Obj = dict[str, Any]

CARD = "card"
BANK_DEBIT = "us_bank_account"

# What Stripe's test card 4000 0000 0000 0002 and an ACH debit returned unpaid look like.
DECLINES: dict[str, dict[str, str]] = {
    CARD: {
        "code": "card_declined",
        "decline_code": "generic_decline",
        "message": "Your card was declined.",
        "seller_message": "The bank did not return any further details with this decline.",
    },
    BANK_DEBIT: {
        "code": "insufficient_funds",
        "decline_code": "insufficient_funds",
        "message": "The customer's account has insufficient funds to cover this payment.",
        "seller_message": "The customer's account has insufficient funds to cover this payment.",
    },
}


def payment_intent(
    created: int, *, amount: int, currency: str, customer: str | None, description: str
) -> Obj:
    obj_id = new_id("pi")
    return {
        "id": obj_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{obj_id}_secret_{rand_token(25)}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": [CARD, BANK_DEBIT],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def method_details(method: str, amount: int, declined: bool) -> Obj:
    if method == BANK_DEBIT:
        details: Obj = {
            "account_holder_type": "individual",
            "account_type": "checking",
            "bank_name": "STRIPE TEST BANK",
            "fingerprint": "emuBankFingerprint",
            "last4": "6789",
            "mandate": new_id("mandate"),
            "payment_reference": None,
            "routing_number": "110000000",
        }
    else:
        details = {
            "amount_authorized": None if declined else amount,
            "authorization_code": None,
            "brand": "visa",
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass",
            },
            "country": "US",
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": "emuCardFingerprint",
            "funding": "credit",
            "installments": None,
            "last4": "0002" if declined else "4242",
            "mandate": None,
            "network": "visa",
            "network_token": {"used": False},
            "network_transaction_id": None,
            "regulated_status": "unregulated",
            "three_d_secure": None,
            "wallet": None,
        }
    return {method: details, "type": method}


def charge(
    created: int,
    *,
    intent: Obj,
    method: str,
    status: str,
    billing_email: str | None,
    billing_name: str | None,
) -> Obj:
    """A charge in `status` succeeded / pending / failed for the intent's whole amount."""
    obj_id = new_id("ch")
    amount = intent["amount"]
    failed = status == "failed"
    decline = DECLINES[method]
    return {
        "id": obj_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": 0 if failed else amount,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None if failed else new_id("txn"),
        "billing_details": {
            "address": {
                "city": None,
                "country": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "email": billing_email,
            "name": billing_name,
            "phone": None,
            "tax_id": None,
        },
        "calculated_statement_descriptor": "STRIPE EMULATOR",
        "captured": not failed,
        "created": created,
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": decline["code"] if failed else None,
        "failure_message": decline["message"] if failed else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": outcome(method, status),
        "paid": status == "succeeded",
        "payment_intent": intent["id"],
        "payment_method": intent["payment_method"],
        "payment_method_details": method_details(method, amount, failed),
        "radar_options": {},
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/emulator/{obj_id}",
        "refunded": False,
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def outcome(method: str, status: str) -> Obj | None:
    """The charge's `outcome`; a bank debit still in flight has none yet."""
    if status == "pending":
        return None
    failed = status == "failed"
    decline = DECLINES[method]
    return {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "declined_by_network" if failed else "approved_by_network",
        "reason": decline["decline_code"] if failed else None,
        "risk_level": "normal",
        "seller_message": decline["seller_message"] if failed else "Payment complete.",
        "type": "issuer_declined" if failed else "authorized",
    }


def payment_error(method: str, charge_id: str) -> Obj:
    """A PaymentIntent's `last_payment_error` after a declined card or a returned debit."""
    decline = DECLINES[method]
    return {
        "charge": charge_id,
        "code": decline["code"],
        "decline_code": decline["decline_code"],
        "doc_url": "https://docs.stripe.com/error-codes/" + decline["code"].replace("_", "-"),
        "message": decline["message"],
        "payment_method_type": method,
        "type": "card_error",
    }


def invoice_payment(created: int, *, invoice: Obj, intent_id: str) -> Obj:
    return {
        "id": new_id("inpay"),
        "object": "invoice_payment",
        "amount_paid": None,
        "amount_requested": invoice["amount_due"],
        "created": created,
        "currency": invoice["currency"],
        "invoice": invoice["id"],
        "is_default": True,
        "livemode": False,
        "payment": {"payment_intent": intent_id, "type": "payment_intent"},
        "status": "open",
        "status_transitions": {"canceled_at": None, "paid_at": None},
    }


def refund(
    created: int,
    *,
    charge_obj: Obj,
    amount: int,
    reason: str | None,
    metadata: dict[str, str],
) -> Obj:
    obj: Obj = {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge_obj["id"],
        "created": created,
        "currency": charge_obj["currency"],
        "metadata": metadata,
        "payment_intent": charge_obj["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    if charge_obj["payment_method_details"]["type"] == CARD:
        obj["destination_details"] = {
            "card": {
                "reference": rand_token(23),
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        }
    return obj
