"""`/v1/invoices` (with the includable `payments` list) and `/v1/invoice_payments`."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import invalid_param
from ..listing import created_filter, newest, paginate
from ..store import Obj
from ..web import Ctx, route
from ..wire import get_str

INVOICE_PAYMENT_STATUSES = ("canceled", "open", "paid")


def retrieve_invoice(ctx: Ctx) -> Obj:
    # `expand[]=payments` adds the includable list (see listing.expand).
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


def list_invoice_payments(ctx: Ctx) -> Obj:
    p, store = ctx.params, ctx.emu.store
    invoice = get_str(p, "invoice")
    status = get_str(p, "status")
    if status and status not in INVOICE_PAYMENT_STATUSES:
        raise invalid_param(
            "status", f"Invalid status: must be one of {', '.join(INVOICE_PAYMENT_STATUSES)}"
        )
    payment = p.get("payment")
    intent = get_str(payment, "payment_intent") if isinstance(payment, dict) else None
    created = created_filter(p)
    rows: Iterable[Obj] = (
        reversed(store.children("invoice_payments", invoice))
        if invoice
        else newest(store.tables["invoice_payments"])
    )
    items = (
        r
        for r in rows
        if (status is None or r["status"] == status)
        and (intent is None or r["payment"].get("payment_intent") == intent)
        and (created is None or created(r["created"]))
    )
    return paginate(ctx.emu, p, items, "/v1/invoice_payments")


def retrieve_invoice_payment(ctx: Ctx) -> Obj:
    return ctx.emu.store.get("invoice_payments", ctx.args["invoice_payment"])


IP = "/v1/invoice_payments/{invoice_payment}"
ROUTES = [
    route("GET", "/v1/invoices", list_invoices, "GET /v1/invoices"),
    route("GET", "/v1/invoices/{invoice}", retrieve_invoice, "GET /v1/invoices/{invoice}"),
    route("GET", "/v1/invoices/{invoice}/lines", invoice_lines, "GET /v1/invoices/{invoice}/lines"),
    route("GET", "/v1/invoice_payments", list_invoice_payments, "GET /v1/invoice_payments"),
    route("GET", IP, retrieve_invoice_payment, f"GET {IP}"),
]
