"""`/v1/subscriptions` (create, retrieve, update, cancel, list) and `/v1/subscription_items`."""

from __future__ import annotations

from typing import Any

from .. import lifecycle, subscribe
from ..errors import StripeError, invalid_param
from ..listing import created_filter, newest, paginate
from ..store import Obj
from ..web import Ctx, route
from ..wire import get_bool, get_dict, get_int, get_list, get_str, merge_metadata

SUB_STATUSES = (*lifecycle.STATUSES, "all", "ended")
PAYMENT_BEHAVIORS = (
    "allow_incomplete",
    "default_incomplete",
    "error_if_incomplete",
    "pending_if_incomplete",
)
# What `POST /v1/subscriptions` honours; other spec parameters are refused, not ignored.
CREATE_SUPPORTED = {
    "customer",
    "items",
    "metadata",
    "payment_behavior",
    "trial_period_days",
    "description",
    "expand",
    "proration_behavior",
    "off_session",
}


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


def _new_items(ctx: Ctx) -> list[dict[str, Any]]:
    raw = get_list(ctx.params, "items")
    if not raw:
        raise StripeError.missing("items")
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise invalid_param(f"items[{i}]", "Invalid hash", "parameter_invalid_hash")
        param = f"items[{i}][price]"
        price_id = get_str(entry, "price")
        if not price_id:
            raise StripeError.missing(param)
        price = ctx.emu.store.price(price_id, param=param, status=400)
        if not price["active"]:
            raise invalid_param(
                param,
                "The price specified is inactive. This field only accepts active prices.",
                "resource_missing",
            )
        if price["type"] != "recurring":
            raise invalid_param(
                param,
                "The price specified is set to `type=one_time` but this field only accepts "
                "prices with `type=recurring`.",
            )
        quantity = get_int(entry, "quantity")
        if quantity is not None and quantity < 1:
            raise invalid_param(
                f"items[{i}][quantity]",
                "This value must be greater than or equal to 1.",
                "parameter_invalid_integer",
            )
        out.append({"price": price_id, "quantity": 1 if quantity is None else quantity})
    return out


def create_sub(ctx: Ctx) -> Obj:
    """A customer with a default card: paid at once unless `payment_behavior=default_incomplete`
    (first invoice open, its PaymentIntent awaiting confirmation) or a trial."""
    emu, p = ctx.emu, ctx.params
    unsupported = sorted(set(p) - CREATE_SUPPORTED)
    if unsupported:
        raise invalid_param(
            unsupported[0], f"{unsupported[0]} is not supported by the Stripe emulator."
        )
    customer = get_str(p, "customer")
    if not customer:
        raise StripeError.missing("customer")
    emu.store.customer(customer, param="customer", status=400)
    items = _new_items(ctx)
    behavior = get_str(p, "payment_behavior") or "allow_incomplete"
    if behavior not in PAYMENT_BEHAVIORS:
        raise invalid_param(
            "payment_behavior",
            f"Invalid payment_behavior: must be one of {', '.join(PAYMENT_BEHAVIORS)}",
        )
    trial_days = get_int(p, "trial_period_days")
    if trial_days is not None and not 0 <= trial_days <= 730:
        raise invalid_param(
            "trial_period_days",
            "The trial period must be between 0 and 730 days.",
            "parameter_invalid_integer",
        )
    sub = subscribe.start_subscription(
        emu,
        customer,
        items,
        merge_metadata({}, p.get("metadata")),
        "none" if behavior == "default_incomplete" else "paid",
        ctx.req,
        trial_days=trial_days or None,
        description=get_str(p, "description") or None,
    )
    return emu.render(sub)


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
    """`prorate` credits the unused time; `invoice_now` bills it (to the balance) at once."""
    sub = ctx.emu.store.get("subscriptions", ctx.args["subscription_exposed_id"])
    details = get_dict(ctx.params, "cancellation_details")
    lifecycle.cancel_subscription(
        ctx.emu,
        sub,
        ctx.req,
        prorate=get_bool(ctx.params, "prorate") is True,
        invoice_now=get_bool(ctx.params, "invoice_now") is True,
    )
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


SUB = "/v1/subscriptions/{subscription_exposed_id}"
ROUTES = [
    route("GET", "/v1/subscriptions", list_subs, "GET /v1/subscriptions"),
    route("POST", "/v1/subscriptions", create_sub, "POST /v1/subscriptions"),
    route("GET", SUB, retrieve_sub, f"GET {SUB}"),
    route("POST", SUB, update_sub, f"POST {SUB}"),
    route("DELETE", SUB, cancel_sub, f"DELETE {SUB}"),
    route("GET", "/v1/subscription_items", list_items, "GET /v1/subscription_items"),
]
