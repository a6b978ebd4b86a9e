"""Hosted Checkout page: pay by card or bank debit, a declined card, or cancel back to the shop."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from . import checkout_flow, payment_objects
from .store import Obj
from .web import Ctx, Response, Route, route

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;color:#1a1f36}"
    "button{font-size:1rem;padding:.5rem 1rem;margin:.25rem;border-radius:6px;cursor:pointer}"
    ".pay{background:#635bff;color:#fff;border:0}.muted{color:#697386}.error{color:#df1b41}"
    "li{margin:.5rem 0}form{display:inline}"
)


def page(title: str, body: str, status: int = 200) -> Response:
    return Response.html(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>",
        status,
    )


def _money(amount: int | None, currency: str) -> str:
    return f"{(amount or 0) / 100:.2f} {currency.upper()}"


def price_label(ctx: Ctx, price: Obj) -> str:
    product = ctx.emu.store.tables["products"].get(price["product"], {})
    rec = price.get("recurring") or {}
    return (
        f"{product.get('name', price['product'])} — "
        f"{_money(price['unit_amount'], price['currency'])} / {rec.get('interval', 'once')}"
    )


def checkout_page(ctx: Ctx, error: str | None = None) -> Response:
    session = ctx.emu.store.tables["checkout_sessions"].get(ctx.args["id"])
    if session is None:
        return page("Checkout session not found", "", 404)
    if session["status"] != "open":
        return _closed(session)
    lines = "".join(
        f"<li>{item['quantity']} × "
        f"{escape(price_label(ctx, ctx.emu.store.tables['prices'][item['price']]))}</li>"
        for item in session["_items"]
    )
    sid = escape(session["id"])
    back = session.get("cancel_url")
    cancel_link = f"<p><a href='{escape(back)}'>Cancel</a></p>" if back else ""
    alert = f"<p class='error' role='alert'>{escape(error)}</p>" if error else ""
    body = (
        f"<p class='muted'>Emulated Stripe Checkout · {sid}</p><ul>{lines}</ul>"
        f"<p>Total due today: <b>{_money(session['amount_total'], session['currency'])}</b></p>"
        f"{alert}"
        f"<form method='post' action='/pay/{sid}/pay'><button class='pay'>Pay</button></form>"
        f"<form method='post' action='/pay/{sid}/bank_debit'>"
        "<button>Pay by bank debit</button></form>"
        f"<form method='post' action='/pay/{sid}/decline'><button>Decline</button></form>"
        f"{cancel_link}"
    )
    return page("Checkout", body, 402 if error else 200)


def _closed(session: Obj) -> Response:
    """A session that can no longer be paid: expired (410) or already complete (409)."""
    if session["status"] == "expired":
        return page(
            "Checkout session expired",
            "<p>This Checkout Session has expired and can no longer be paid. "
            "Return to the merchant's site to start again.</p>",
            410,
        )
    return page("Checkout", f"<p>Session {escape(session['id'])} is already complete.</p>", 409)


def _after_checkout(session: Obj, url: str | None) -> Response:
    if not url:
        return page("Checkout", f"<p>Session {escape(session['id'])} is complete.</p>")
    return Response.redirect(url.replace("{CHECKOUT_SESSION_ID}", quote(session["id"])))


def _complete(ctx: Ctx, outcome: str) -> Response:
    session = ctx.emu.store.get("checkout_sessions", ctx.args["id"])
    if session["status"] != "open":
        return _closed(session)
    checkout_flow.complete_checkout(ctx.emu, session, outcome)
    return _after_checkout(session, session.get("success_url"))


def checkout_pay(ctx: Ctx) -> Response:
    return _complete(ctx, "paid")


def checkout_bank_debit(ctx: Ctx) -> Response:
    """The debit is only initiated: back to success_url with the payment still processing."""
    return _complete(ctx, "processing")


def checkout_decline(ctx: Ctx) -> Response:
    """The card is declined: like Stripe's page, an error and the session stays open."""
    session = ctx.emu.store.get("checkout_sessions", ctx.args["id"])
    if session["status"] != "open":
        return _closed(session)
    return checkout_page(ctx, payment_objects.DECLINES[payment_objects.CARD]["message"])


ROUTES: list[Route] = [
    route("GET", "/pay/{id}", checkout_page),
    route("POST", "/pay/{id}/pay", checkout_pay),
    route("POST", "/pay/{id}/bank_debit", checkout_bank_debit),
    route("POST", "/pay/{id}/decline", checkout_decline),
]
