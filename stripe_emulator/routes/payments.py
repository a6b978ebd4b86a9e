"""`/v1/payment_intents`, `/v1/charges` and `/v1/refunds`: the money behind paid invoices."""

from __future__ import annotations

from .. import refunds
from ..errors import invalid_param
from ..listing import created_filter, newest, paginate
from ..store import Obj
from ..web import Ctx, route
from ..wire import get_str

# What `POST /v1/refunds` honours; other spec parameters are refused, not ignored.
REFUND_SUPPORTED = {
    "amount",
    "charge",
    "payment_intent",
    "reason",
    "metadata",
    "expand",
    "currency",
}


def retrieve_intent(ctx: Ctx) -> Obj:
    return ctx.emu.store.get("payment_intents", ctx.args["intent"])


def retrieve_charge(ctx: Ctx) -> Obj:
    return ctx.emu.store.get("charges", ctx.args["charge"])


def list_charges(ctx: Ctx) -> Obj:
    p = ctx.params
    filters = {k: get_str(p, k) for k in ("customer", "payment_intent")}
    created = created_filter(p)
    items = (
        c
        for c in newest(ctx.emu.store.tables["charges"])
        if all(v is None or c[k] == v for k, v in filters.items())
        and (created is None or created(c["created"]))
    )
    return paginate(ctx.emu, p, items, "/v1/charges")


def create_refund(ctx: Ctx) -> Obj:
    unsupported = sorted(set(ctx.params) - REFUND_SUPPORTED)
    if unsupported:
        raise invalid_param(
            unsupported[0], f"{unsupported[0]} is not supported by the Stripe emulator."
        )
    return refunds.create_refund(ctx.emu, ctx.params, ctx.req)


def retrieve_refund(ctx: Ctx) -> Obj:
    return ctx.emu.store.get("refunds", ctx.args["refund"])


def list_refunds(ctx: Ctx) -> Obj:
    p = ctx.params
    filters = {k: get_str(p, k) for k in ("charge", "payment_intent")}
    created = created_filter(p)
    items = (
        r
        for r in newest(ctx.emu.store.tables["refunds"])
        if all(v is None or r[k] == v for k, v in filters.items())
        and (created is None or created(r["created"]))
    )
    return paginate(ctx.emu, p, items, "/v1/refunds")


ROUTES = [
    route(
        "GET",
        "/v1/payment_intents/{intent}",
        retrieve_intent,
        "GET /v1/payment_intents/{intent}",
    ),
    route("GET", "/v1/charges", list_charges, "GET /v1/charges"),
    route("GET", "/v1/charges/{charge}", retrieve_charge, "GET /v1/charges/{charge}"),
    route("POST", "/v1/refunds", create_refund, "POST /v1/refunds"),
    route("GET", "/v1/refunds", list_refunds, "GET /v1/refunds"),
    route("GET", "/v1/refunds/{refund}", retrieve_refund, "GET /v1/refunds/{refund}"),
]
