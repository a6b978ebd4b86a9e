"""`/v1/checkout/sessions` (subscription mode) and `/v1/billing_portal/sessions`."""

from __future__ import annotations

from typing import Any

from .. import checkout_flow, objects
from ..core import PORTAL_CONFIGURATION, Emulator
from ..errors import StripeError, invalid_param, no_such
from ..listing import created_filter, list_object, newest, paginate
from ..store import Obj
from ..web import Ctx, route
from ..wire import get_dict, get_int, get_list, get_str, merge_metadata, now

MIN_EXPIRY, MAX_EXPIRY = 30 * 60, 24 * 3600


def _live_customer(emu: Emulator, customer_id: str) -> None:
    # A deleted customer is as unknown as one that never existed, exactly like Stripe.
    if customer_id not in emu.store.tables["customers"]:
        raise no_such("customer", customer_id, "customer", 400)


def _line_items(emu: Emulator, raw: list[Any]) -> list[dict[str, Any]]:
    if not raw:
        raise StripeError.missing("line_items")
    out: list[dict[str, Any]] = []
    recurring = False
    for i, line in enumerate(raw):
        if not isinstance(line, dict):
            raise invalid_param(f"line_items[{i}]", "Invalid hash", "parameter_invalid_hash")
        param = f"line_items[{i}][price]"
        price_id = get_str(line, "price")
        if not price_id:
            raise StripeError.missing(param)
        price = emu.store.tables["prices"].get(price_id)
        if price is None:
            raise no_such("price", price_id, param, 400)
        if not price["active"]:
            raise invalid_param(
                param,
                "The price specified is inactive. This field only accepts active prices.",
                "resource_missing",
            )
        quantity = get_int(line, "quantity")
        if quantity is None:
            raise StripeError(
                400,
                f"Quantity is required. Add `quantity` to `line_items[{i}]`",
                param=f"line_items[{i}][quantity]",
                replayable=False,
            )
        if quantity < 1:
            raise invalid_param(
                f"line_items[{i}][quantity]",
                "This value must be greater than or equal to 1.",
                "parameter_invalid_integer",
            )
        recurring = recurring or price["type"] == "recurring"
        out.append({"price": price_id, "quantity": quantity})
    if not recurring:
        raise invalid_param(
            "line_items",
            "You must provide at least one recurring price in "
            "`subscription` mode when using prices.",
            "",
        )
    return out


def create(ctx: Ctx) -> Obj:
    emu, p = ctx.emu, ctx.params
    mode = get_str(p, "mode", required=True)
    if mode not in ("payment", "setup", "subscription"):
        raise invalid_param("mode", "Invalid mode: must be one of payment, setup, or subscription")
    if mode != "subscription":
        raise invalid_param("mode", "The Stripe emulator supports only mode=subscription.")
    customer = get_str(p, "customer") or None
    if customer:
        _live_customer(emu, customer)
    lines = _line_items(emu, get_list(p, "line_items"))
    created = now()
    expires_at = get_int(p, "expires_at") or created + MAX_EXPIRY
    if not MIN_EXPIRY <= expires_at - created <= MAX_EXPIRY:
        raise invalid_param(
            "expires_at",
            "The `expires_at` timestamp must be between 30 "
            "minutes and 24 hours from Checkout Session creation.",
            "parameter_invalid_integer",
        )
    sub_data = get_dict(p, "subscription_data")
    items = []
    for line in lines:
        price = emu.store.tables["prices"][line["price"]]
        product = emu.store.tables["products"].get(price["product"], {})
        item = objects.checkout_item(price, line["quantity"], product.get("name", ""))
        emu.store.seq[item["id"]] = emu.store.next_seq()
        items.append(item)
    total = sum(i["amount_total"] for i in items)
    session = objects.checkout_session(
        created,
        expires_at,
        {
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": get_str(p, "cancel_url"),
            "client_reference_id": get_str(p, "client_reference_id") or None,
            "currency": items[0]["currency"],
            "customer": customer,
            "customer_creation": None if customer else "always",
            "customer_email": get_str(p, "customer_email") or None,
            "locale": get_str(p, "locale") or None,
            "metadata": merge_metadata({}, p.get("metadata")),
            "success_url": get_str(p, "success_url"),
            "_line_items": lines,
            "_items": items,
            "_subscription_metadata": merge_metadata({}, sub_data.get("metadata")),
        },
    )
    session["url"] = f"{ctx.base_url}/pay/{session['id']}"
    emu.store.add("checkout_sessions", session)
    return _with_line_items(ctx, session)


def _line_items_list(session: Obj, emu: Emulator) -> Obj:
    data = [emu.render(i) for i in session["_items"]]
    return list_object(data, False, f"/v1/checkout/sessions/{session['id']}/line_items")


def _with_line_items(ctx: Ctx, session: Obj) -> Obj:
    """Sessions omit `line_items` unless expanded, which needs more than an id lookup."""
    out = ctx.emu.render(session)
    expand = get_list(ctx.params, "expand")
    if "line_items" in expand or any(str(e).startswith("line_items.") for e in expand):
        out["line_items"] = _line_items_list(session, ctx.emu)
        ctx.params["expand"] = [e for e in expand if e != "line_items"]
    return out


def retrieve(ctx: Ctx) -> Obj:
    return _with_line_items(ctx, ctx.emu.store.get("checkout_sessions", ctx.args["session"]))


def line_items(ctx: Ctx) -> Obj:
    session = ctx.emu.store.get("checkout_sessions", ctx.args["session"])
    # Subscription sessions hold a handful of items: one page, in the order given.
    return _line_items_list(session, ctx.emu)


def expire(ctx: Ctx) -> Obj:
    session = ctx.emu.store.get("checkout_sessions", ctx.args["session"])
    return ctx.emu.render(checkout_flow.expire_checkout(ctx.emu, session, ctx.req))


def list_(ctx: Ctx) -> Obj:
    p = ctx.params
    filters = {
        k: get_str(p, k)
        for k in ("customer", "subscription", "status", "payment_intent", "payment_link")
    }
    if filters["status"] and filters["status"] not in ("open", "complete", "expired"):
        raise invalid_param("status", "Invalid status: must be one of complete, expired, or open")
    created = created_filter(p)
    items = (
        s
        for s in newest(ctx.emu.store.tables["checkout_sessions"])
        if all(v is None or s.get(k) == v for k, v in filters.items())
        and (created is None or created(s["created"]))
    )
    page = paginate(ctx.emu, p, items, "/v1/checkout/sessions")
    expand = get_list(p, "expand")
    if "data.line_items" in expand:
        for obj in page["data"]:
            obj["line_items"] = _line_items_list(
                ctx.emu.store.tables["checkout_sessions"][obj["id"]], ctx.emu
            )
        p["expand"] = [e for e in expand if e != "data.line_items"]
    return page


def create_portal(ctx: Ctx) -> Obj:
    p = ctx.params
    customer = get_str(p, "customer", required=True) or ""
    _live_customer(ctx.emu, customer)
    configuration = get_str(p, "configuration") or PORTAL_CONFIGURATION
    if not configuration.startswith("bpc_"):
        raise no_such("billing portal configuration", configuration, "configuration", 400)
    session = objects.portal_session(
        now(),
        customer_id=customer,
        configuration=configuration,
        return_url=get_str(p, "return_url"),
        locale=get_str(p, "locale") or None,
        base_url=ctx.base_url,
    )
    return ctx.emu.store.add("portal_sessions", session)


ROUTES = [
    route("POST", "/v1/checkout/sessions", create, "POST /v1/checkout/sessions"),
    route("GET", "/v1/checkout/sessions", list_, "GET /v1/checkout/sessions"),
    route(
        "GET", "/v1/checkout/sessions/{session}", retrieve, "GET /v1/checkout/sessions/{session}"
    ),
    route(
        "GET",
        "/v1/checkout/sessions/{session}/line_items",
        line_items,
        "GET /v1/checkout/sessions/{session}/line_items",
    ),
    route(
        "POST",
        "/v1/checkout/sessions/{session}/expire",
        expire,
        "POST /v1/checkout/sessions/{session}/expire",
    ),
    route("POST", "/v1/billing_portal/sessions", create_portal, "POST /v1/billing_portal/sessions"),
]
