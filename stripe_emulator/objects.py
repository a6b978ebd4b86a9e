"""Builders for Stripe objects in the API 2026-08-26 shapes (see openapi_subset.json)."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from .wire import new_id, rand_token

Obj = dict[str, Any]


def add_interval(ts: int, interval: str, count: int = 1) -> int:
    """Advance a timestamp by whole calendar units, clamping the day like Stripe's anchors."""
    if interval in ("day", "week"):
        return ts + count * (86400 if interval == "day" else 7 * 86400)
    d = dt.datetime.fromtimestamp(ts, dt.UTC)
    months = count * (12 if interval == "year" else 1)
    year, month0 = divmod(d.month - 1 + months, 12)
    year += d.year
    day = min(d.day, calendar.monthrange(year, month0 + 1)[1])
    return int(d.replace(year=year, month=month0 + 1, day=day).timestamp())


def customer(
    created: int,
    *,
    email: str | None,
    name: str | None,
    description: str | None,
    phone: str | None,
    metadata: dict[str, str],
    obj_id: str | None = None,
) -> Obj:
    return {
        "id": obj_id or new_id("cus", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": description,
        "discount": None,
        "email": email,
        "invoice_prefix": rand_token(8).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata,
        "name": name,
        "next_invoice_sequence": 1,
        "phone": phone,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def deleted_customer(obj_id: str) -> Obj:
    return {"id": obj_id, "object": "customer", "deleted": True}


def product(
    created: int,
    *,
    name: str,
    active: bool,
    description: str | None,
    metadata: dict[str, str],
    obj_id: str | None = None,
) -> Obj:
    return {
        "id": obj_id or new_id("prod", 14),
        "object": "product",
        "active": active,
        "created": created,
        "default_price": None,
        "description": description,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": metadata,
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def price(
    created: int,
    *,
    product_id: str,
    currency: str,
    unit_amount: int,
    recurring: dict[str, Any] | None,
    lookup_key: str | None,
    nickname: str | None,
    active: bool,
    metadata: dict[str, str],
    obj_id: str | None = None,
) -> Obj:
    return {
        "id": obj_id or new_id("price"),
        "object": "price",
        "active": active,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": metadata,
        "nickname": nickname,
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def recurring(interval: str, interval_count: int) -> Obj:
    return {
        "interval": interval,
        "interval_count": interval_count,
        "meter": None,
        "usage_type": "licensed",
    }


def checkout_item(price_obj: Obj, quantity: int, description: str) -> Obj:
    amount = (price_obj.get("unit_amount") or 0) * quantity
    return {
        "id": new_id("li"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": price_obj["currency"],
        "description": description,
        "discounts": [],
        "metadata": {},
        "price": price_obj["id"],  # expanded to the price object when rendered
        "quantity": quantity,
        "taxes": [],
    }


def checkout_session(created: int, expires_at: int, fields: Obj) -> Obj:
    session: Obj = {
        "id": "cs_test_" + rand_token(58),
        "object": "checkout.session",
        "adaptive_pricing": None,
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": 0,
        "amount_total": 0,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": None,
        "client_reference_id": None,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": "usd",
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_account": None,
        "customer_creation": None,
        "customer_details": None,
        "customer_email": None,
        "discounts": [],
        "expires_at": expires_at,
        "invoice": None,
        "invoice_creation": None,
        "livemode": False,
        "locale": None,
        "metadata": {},
        "mode": "subscription",
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always",
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": None,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted_page",
        "url": None,
        "wallet_options": None,
    }
    session.update(fields)
    return session


def portal_session(
    created: int,
    *,
    customer_id: str,
    configuration: str,
    return_url: str | None,
    locale: str | None,
    base_url: str,
) -> Obj:
    obj_id = new_id("bps")
    return {
        "id": obj_id,
        "object": "billing_portal.session",
        "configuration": configuration,
        "created": created,
        "customer": customer_id,
        "customer_account": None,
        "flow": None,
        "livemode": False,
        "locale": locale,
        "on_behalf_of": None,
        "return_url": return_url,
        "url": f"{base_url}/portal/{obj_id}",
    }


def subscription_item(
    created: int, sub_id: str, price_id: str, quantity: int, start: int, end: int
) -> Obj:
    return {
        "id": new_id("si", 14),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": {},
        "price": price_id,  # always rendered as the full price object, as Stripe does
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": [],
    }


def subscription(
    created: int,
    *,
    customer_id: str,
    currency: str,
    status: str,
    metadata: dict[str, str],
) -> Obj:
    obj_id = new_id("sub")
    return {
        "id": obj_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": created,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={obj_id}",
        },
        "latest_invoice": None,
        "livemode": False,
        "metadata": metadata,
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": created,
        "status": status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }
