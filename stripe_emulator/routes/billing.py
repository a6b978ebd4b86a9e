"""`/v1/subscriptions`, `/v1/subscription_items` and `/v1/invoices`."""

from __future__ import annotations

from typing import Any

from .. import lifecycle
from ..errors import StripeError, invalid_param
from ..listing import created_filter, newest, paginate
from ..store import Obj
from ..web import Ctx, route
from ..wire import get_bool, get_dict, get_int, get_list, get_str, merge_metadata

SUB_STATUSES = (*lifecycle.STATUSES, "all", "ended")


def retrieve_sub(ctx: Ctx) -> Obj:
    sub = ctx.emu.store.get("subscriptions", ctx.args["subscription_exposed_id"])
    return ctx.emu.render(sub)


def list_subs(ctx: Ctx) -> Obj:
    p, store = ctx.params, ctx.emu.store
    customer = get_str(p, "customer")
    price = get_str(p, "price")
    status = get_str(p, "status")
    if status and status not in SUB_STATUSES:
        raise invalid_param("status", f"Invalid status: must be one of {', '.join(SUB_STATUSES)}")
    created = created_filter(p)
    period_end = created_filter(p, "current_period_end")
    period_start = created_filter(p, "current_period_start")

    def keep(s: Obj) -> bool:
        if customer and s["customer"] != customer:
            return False
        if status is None and s["status"] == "canceled":
            return False  # Stripe's default: everything not canceled
        if status == "ended" and s["status"] not in lifecycle.ENDED:
            return False
        if status not in (None, "all", "ended") and s["status"] != status:
            return False
        items = s["items"]["data"]
        if price and not any(i["price"] == price for i in items):
            return False
        if created and not created(s["created"]):
            return False
        if period_end and not (items and period_end(items[0]["current_period_end"])):
            return False
        return not period_start or bool(items and period_start(items[0]["current_period_start"]))

    items = (s for s in newest(store.tables["subscriptions"]) if keep(s))
    return paginate(ctx.emu, p, items, "/v1/subscriptions")


def update_sub(ctx: Ctx) -> Obj:
    emu, p = ctx.emu, ctx.params
    sub = emu.store.get("subscriptions", ctx.args["subscription_exposed_id"])
    if sub["status"] in lifecycle.ENDED and set(p) - {"metadata", "cancellation_details", "expand"}:
        raise StripeError(
            400,
            "A canceled subscription can only update its cancellation_details and metadata.",
        )
    previous: dict[str, Any] = {}
    for i, raw in enumerate(get_list(p, "items")):
        if not isinstance(raw, dict):
            raise invalid_param(f"items[{i}]", "Invalid hash", "parameter_invalid_hash")
        price = get_str(raw, "price")
        item_id = get_str(raw, "id")
        if item_id and item_id not in emu.store.tables["subscription_items"]:
            raise StripeError(
                400,
                f"No such subscription_item: '{item_id}'",
                code="resource_missing",
                param=f"items[{i}][id]",
            )
        if not price:
            if item_id is None:
                raise StripeError.missing(f"items[{i}][price]")
            quantity = get_int(raw, "quantity")
            item = emu.store.tables["subscription_items"][item_id]
            if quantity is not None and quantity != item["quantity"]:
                previous.setdefault("items", lifecycle.items_list(emu, sub))
                item["quantity"] = quantity
            continue
        if item_id is None and len(sub["items"]["data"]) > 0:
            raise invalid_param(
                f"items[{i}][id]",
                "Adding new subscription items is not "
                "supported by the Stripe emulator; pass items[][id].",
            )
        lifecycle.change_price(
            emu, sub, price, previous, item_id, get_int(raw, "quantity"), param=f"items[{i}][price]"
        )
    flag = get_bool(p, "cancel_at_period_end")
    if flag is not None:
        lifecycle.set_cancel_at_period_end(sub, flag, previous)
    if "metadata" in p:
        new_meta = merge_metadata(sub["metadata"], p["metadata"])
        if new_meta != sub["metadata"]:
            previous["metadata"] = lifecycle.metadata_previous(sub["metadata"], new_meta)
            sub["metadata"] = new_meta
    if "description" in p:
        desc = get_str(p, "description") or None
        if desc != sub["description"]:
            previous["description"] = sub["description"]
            sub["description"] = desc
    if "cancellation_details" in p:
        details = get_dict(p, "cancellation_details")
        new = {
            **sub["cancellation_details"],
            **{k: (v or None) for k, v in details.items() if k in ("comment", "feedback")},
        }
        if new != sub["cancellation_details"]:
            previous["cancellation_details"] = sub["cancellation_details"]
            sub["cancellation_details"] = new
    if previous:
        emu.emit("customer.subscription.updated", emu.render(sub), ctx.req, previous)
    return emu.render(sub)


def cancel_sub(ctx: Ctx) -> Obj:
    sub = ctx.emu.store.get("subscriptions", ctx.args["subscription_exposed_id"])
    details = get_dict(ctx.params, "cancellation_details")
    lifecycle.cancel_subscription(ctx.emu, sub, ctx.req)
    for key in ("comment", "feedback"):
        if details.get(key):
            sub["cancellation_details"][key] = details[key]
    return ctx.emu.render(sub)


def list_items(ctx: Ctx) -> Obj:
    sub_id = get_str(ctx.params, "subscription", required=True) or ""
    sub = ctx.emu.store.get("subscriptions", sub_id, param="subscription", status=400)
    return paginate(
        ctx.emu,
        ctx.params,
        reversed(sub["items"]["data"]),
        f"/v1/subscription_items?subscription={sub_id}",
    )


def retrieve_invoice(ctx: Ctx) -> Obj:
    return ctx.emu.store.get("invoices", ctx.args["invoice"])


def invoice_lines(ctx: Ctx) -> Obj:
    inv = ctx.emu.store.get("invoices", ctx.args["invoice"])
    lines: Obj = inv["lines"]
    return lines


def list_invoices(ctx: Ctx) -> Obj:
    p = ctx.params
    filters = {k: get_str(p, k) for k in ("customer", "status", "collection_method")}
    subscription = get_str(p, "subscription")
    created = created_filter(p)

    def keep(inv: Obj) -> bool:
        if any(v is not None and inv.get(k) != v for k, v in filters.items()):
            return False
        details = (inv.get("parent") or {}).get("subscription_details") or {}
        if subscription and details.get("subscription") != subscription:
            return False
        return created is None or created(inv["created"])

    items = (i for i in newest(ctx.emu.store.tables["invoices"]) if keep(i))
    return paginate(ctx.emu, p, items, "/v1/invoices")


SUB = "/v1/subscriptions/{subscription_exposed_id}"
ROUTES = [
    route("GET", "/v1/subscriptions", list_subs, "GET /v1/subscriptions"),
    route("GET", SUB, retrieve_sub, f"GET {SUB}"),
    route("POST", SUB, update_sub, f"POST {SUB}"),
    route("DELETE", SUB, cancel_sub, f"DELETE {SUB}"),
    route("GET", "/v1/subscription_items", list_items, "GET /v1/subscription_items"),
    route("GET", "/v1/invoices", list_invoices, "GET /v1/invoices"),
    route("GET", "/v1/invoices/{invoice}", retrieve_invoice, "GET /v1/invoices/{invoice}"),
    route("GET", "/v1/invoices/{invoice}/lines", invoice_lines, "GET /v1/invoices/{invoice}/lines"),
]
