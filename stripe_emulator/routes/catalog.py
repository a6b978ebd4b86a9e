"""`/v1/products` and `/v1/prices`, with lookup keys and their transfer."""

from __future__ import annotations

from typing import Any

from .. import lifecycle, objects
from ..core import Emulator, ReqInfo
from ..errors import StripeError, invalid_param, no_such
from ..listing import created_filter, newest, paginate
from ..store import Obj
from ..web import Ctx, route
from ..wire import get_bool, get_dict, get_int, get_list, get_str, merge_metadata, now

INTERVALS = ("day", "week", "month", "year")


def create_product_obj(emu: Emulator, params: dict[str, Any], req: ReqInfo) -> Obj:
    name = get_str(params, "name", required=True)
    obj_id = get_str(params, "id")
    if obj_id and obj_id in emu.store.tables["products"]:
        raise StripeError(
            400, "Product already exists.", code="resource_already_exists", param="id"
        )
    active = get_bool(params, "active")
    prod = objects.product(
        now(),
        name=name or "",
        active=True if active is None else active,
        description=get_str(params, "description") or None,
        metadata=merge_metadata({}, params.get("metadata")),
        obj_id=obj_id,
    )
    emu.store.add("products", prod)
    emu.emit("product.created", prod, req)
    return prod


def create_product(ctx: Ctx) -> Obj:
    return create_product_obj(ctx.emu, ctx.params, ctx.req)


def retrieve_product(ctx: Ctx) -> Obj:
    return ctx.emu.store.get("products", ctx.args["id"])


def update_product(ctx: Ctx) -> Obj:
    prod = ctx.emu.store.get("products", ctx.args["id"])
    p = ctx.params
    changes: dict[str, Any] = {}
    if "name" in p:
        changes["name"] = get_str(p, "name")
    if "description" in p:
        changes["description"] = get_str(p, "description") or None
    if "active" in p:
        changes["active"] = get_bool(p, "active")
    if "default_price" in p:
        price_id = get_str(p, "default_price")
        if price_id:
            price = ctx.emu.store.price(price_id, param="default_price", status=400)
            if price["product"] != prod["id"]:
                raise invalid_param("default_price", "The price must belong to this product.")
        changes["default_price"] = price_id or None
    if "metadata" in p:
        changes["metadata"] = merge_metadata(prod["metadata"], p["metadata"])
    lifecycle.apply_update(ctx.emu, prod, changes, "product.updated", ctx.req)
    return prod


def list_products(ctx: Ctx) -> Obj:
    p = ctx.params
    active = get_bool(p, "active")
    ids = set(get_list(p, "ids"))
    created = created_filter(p)
    items = (
        o
        for o in newest(ctx.emu.store.tables["products"])
        if (active is None or o["active"] == active)
        and (not ids or o["id"] in ids)
        and (created is None or created(o["created"]))
    )
    return paginate(ctx.emu, p, items, "/v1/products")


def _claim_lookup_key(emu: Emulator, key: str, transfer: bool, req: ReqInfo) -> None:
    """Free `key` for a new owner; without transfer a taken key is Stripe's 400."""
    holder_id = emu.store.lookup_keys.get(key)
    if holder_id is None:
        return
    if not transfer:
        raise StripeError(
            400, f"A price (`{holder_id}`) already uses that lookup key.", param="lookup_key"
        )
    holder = emu.store.tables["prices"][holder_id]
    lifecycle.apply_update(emu, holder, {"lookup_key": None}, "price.updated", req)
    del emu.store.lookup_keys[key]


def create_price_obj(emu: Emulator, params: dict[str, Any], req: ReqInfo) -> Obj:
    currency = (get_str(params, "currency", required=True) or "").lower()
    product_id = get_str(params, "product")
    if product_id:
        emu.store.get("products", product_id, param="product", status=400)
    elif "product_data" in params:
        product_id = create_product_obj(emu, get_dict(params, "product_data"), req)["id"]
    else:
        raise StripeError.missing("product")
    unit_amount = get_int(params, "unit_amount")
    if unit_amount is None and get_str(params, "unit_amount_decimal"):
        unit_amount = int(float(get_str(params, "unit_amount_decimal") or 0))
    if unit_amount is None:
        raise StripeError.missing("unit_amount")
    if unit_amount < 0:
        raise invalid_param(
            "unit_amount",
            "This value must be greater than or equal to 0.",
            "parameter_invalid_integer",
        )
    rec = None
    if "recurring" in params:
        spec = get_dict(params, "recurring")
        interval = get_str(spec, "interval")
        if interval is None:
            raise StripeError.missing("recurring[interval]")
        if interval not in INTERVALS:
            raise invalid_param(
                "recurring[interval]",
                f"Invalid recurring[interval]: must be one of {', '.join(INTERVALS)}",
            )
        rec = objects.recurring(interval, get_int(spec, "interval_count") or 1)
    lookup_key = get_str(params, "lookup_key") or None
    if lookup_key:
        _claim_lookup_key(emu, lookup_key, bool(get_bool(params, "transfer_lookup_key")), req)
    active = get_bool(params, "active")
    price = objects.price(
        now(),
        product_id=product_id,
        currency=currency,
        unit_amount=unit_amount,
        recurring=rec,
        lookup_key=lookup_key,
        nickname=get_str(params, "nickname") or None,
        active=True if active is None else active,
        metadata=merge_metadata({}, params.get("metadata")),
        obj_id=get_str(params, "id"),
    )
    emu.store.add("prices", price)
    if lookup_key:
        emu.store.lookup_keys[lookup_key] = price["id"]
    emu.emit("price.created", price, req)
    return price


def create_price(ctx: Ctx) -> Obj:
    return create_price_obj(ctx.emu, ctx.params, ctx.req)


def retrieve_price(ctx: Ctx) -> Obj:
    return ctx.emu.store.price(ctx.args["price"])


def update_price(ctx: Ctx) -> Obj:
    emu = ctx.emu
    price = emu.store.price(ctx.args["price"])
    p = ctx.params
    changes: dict[str, Any] = {}
    if "active" in p:
        changes["active"] = get_bool(p, "active")
    if "nickname" in p:
        changes["nickname"] = get_str(p, "nickname") or None
    if "metadata" in p:
        changes["metadata"] = merge_metadata(price["metadata"], p["metadata"])
    if "lookup_key" in p:
        key = get_str(p, "lookup_key") or None
        if key != price["lookup_key"]:
            if key:
                _claim_lookup_key(emu, key, bool(get_bool(p, "transfer_lookup_key")), ctx.req)
                emu.store.lookup_keys[key] = price["id"]
            if price["lookup_key"]:
                emu.store.lookup_keys.pop(price["lookup_key"], None)
            changes["lookup_key"] = key
    lifecycle.apply_update(emu, price, changes, "price.updated", ctx.req)
    return price


def list_prices(ctx: Ctx) -> Obj:
    p = ctx.params
    store = ctx.emu.store
    active = get_bool(p, "active")
    kind = get_str(p, "type")
    product = get_str(p, "product")
    currency = get_str(p, "currency")
    rec = get_dict(p, "recurring")
    created = created_filter(p)
    lookup_keys = get_list(p, "lookup_keys")
    if len(lookup_keys) > 10:
        raise invalid_param("lookup_keys", "You may only specify up to 10 lookup_keys.")
    if lookup_keys:
        ids = {store.lookup_keys[k] for k in lookup_keys if k in store.lookup_keys}
        source = store.ordered("prices", (store.tables["prices"][i] for i in ids))
    else:
        source = list(newest(store.tables["prices"]))

    def keep(o: Obj) -> bool:
        if active is not None and o["active"] != active:
            return False
        if kind and o["type"] != kind or product and o["product"] != product:
            return False
        if currency and o["currency"] != currency.lower():
            return False
        if rec and (
            o["recurring"] is None
            or any(str(o["recurring"].get(k)) != str(v) for k, v in rec.items())
        ):
            return False
        return created is None or created(o["created"])

    return paginate(ctx.emu, p, (o for o in source if keep(o)), "/v1/prices")


def _missing_product(obj_id: str) -> StripeError:
    return no_such("product", obj_id)


ROUTES = [
    route("POST", "/v1/products", create_product, "POST /v1/products"),
    route("GET", "/v1/products", list_products, "GET /v1/products"),
    route("GET", "/v1/products/{id}", retrieve_product, "GET /v1/products/{id}"),
    route("POST", "/v1/products/{id}", update_product, "POST /v1/products/{id}"),
    route("POST", "/v1/prices", create_price, "POST /v1/prices"),
    route("GET", "/v1/prices", list_prices, "GET /v1/prices"),
    route("GET", "/v1/prices/{price}", retrieve_price, "GET /v1/prices/{price}"),
    route("POST", "/v1/prices/{price}", update_price, "POST /v1/prices/{price}"),
]
