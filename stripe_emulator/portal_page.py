"""Hosted Billing Portal page: switch plan, cancel at period end or now, update the card.

Each action changes the account as Stripe's portal does and emits Stripe's events. The
portal configuration is Stripe's API default: a switch takes effect at once with
`proration_behavior=none` (one customer.subscription.updated, no invoice), and a cancel
issues no refund.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from . import lifecycle, payment_methods
from .core import AUTOMATIC
from .errors import StripeError
from .pages import page, price_label
from .store import Obj
from .web import Ctx, Response, Route, route

# Changes made by the customer on the page carry no API request, like Stripe's portal's.
PORTAL = AUTOMATIC
# What the page says after each action, like the confirmation Stripe's portal shows.
NOTICES = {
    "switched": "Your plan was updated.",
    "canceled": "Your plan will be canceled at the end of the billing period.",
    "resumed": "Your plan will no longer be canceled.",
    "canceled_now": "Your plan was canceled.",
    "card_updated": "Your payment method was updated.",
}


def _form(pid: str, action: str, label: str, fields: dict[str, str]) -> str:
    hidden = "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in fields.items()
    )
    return (
        f"<form method='post' action='/portal/{pid}/action'>"
        f"<input type='hidden' name='action' value='{escape(action)}'>{hidden}"
        f"<button>{escape(label)}</button></form>"
    )


def _subscription_block(ctx: Ctx, pid: str, sub: Obj, prices: list[Obj]) -> str:
    current = ctx.emu.store.tables["prices"][sub["items"]["data"][0]["price"]]
    sid = {"subscription": sub["id"]}
    ending = " · cancels at period end" if sub["cancel_at_period_end"] else ""
    buttons = [
        _form(pid, "resume", "Don't cancel", sid)
        if sub["cancel_at_period_end"]
        else _form(pid, "cancel", "Cancel plan", sid),
        _form(pid, "cancel_now", "Cancel now", sid),
    ]
    buttons += [
        _form(pid, "switch", f"Switch to {price_label(ctx, p)}", {**sid, "price": p["id"]})
        for p in prices
        if p["id"] != current["id"]
    ]
    return (
        f"<li><b>{escape(price_label(ctx, current))}</b> "
        f"<span class='muted'>({escape(sub['status'])}{ending})</span><br>"
        f"{''.join(buttons)}</li>"
    )


def _card_block(ctx: Ctx, pid: str, customer: Obj | None) -> str:
    card = payment_methods.default_card(ctx.emu, customer) if customer else None
    shown = (
        f"{card['card']['brand'].title()} •••• {card['card']['last4']}"
        if card
        else "the card used at checkout"
    )
    options = "".join(
        f"<option value='{number}'>{brand.title()} {funding} •••• {number[-4:]}</option>"
        for number, (brand, funding) in payment_methods.TEST_CARDS.items()
    )
    return (
        f"<h2>Payment method</h2><p>Invoices are charged to <b>{escape(shown)}</b>.</p>"
        f"<form method='post' action='/portal/{pid}/action'>"
        "<input type='hidden' name='action' value='update_card'>"
        f"<label>New card <select name='card'>{options}</select></label> "
        "<button>Update card</button></form>"
    )


def portal_page(ctx: Ctx) -> Response:
    emu = ctx.emu
    portal = emu.store.tables["portal_sessions"].get(ctx.args["id"])
    if portal is None:
        return page("Billing portal session not found", "", 404)
    pid = escape(portal["id"])
    subs = [
        s
        for s in emu.store.ordered("subscriptions")
        if s["customer"] == portal["customer"] and s["status"] not in lifecycle.ENDED
    ]
    prices = [
        p
        for p in emu.store.tables["prices"].values()
        if p["active"] and p["type"] == "recurring" and p["lookup_key"]
    ]
    notice = NOTICES.get(str(ctx.params.get("done", "")))
    customer = emu.store.tables["customers"].get(portal["customer"])
    blocks = "".join(_subscription_block(ctx, pid, sub, prices) for sub in subs)
    ret = portal.get("return_url")
    body = (
        f"<p class='muted'>Emulated Billing Portal · {escape(portal['customer'])}</p>"
        + (f"<p role='status'><b>{escape(notice)}</b></p>" if notice else "")
        + f"<h2>Current plan</h2><ul>{blocks or '<li>No active subscriptions.</li>'}</ul>"
        + (_card_block(ctx, pid, customer) if customer else "")
        + (f"<p><a href='{escape(ret)}'>← Return to the shop</a></p>" if ret else "")
    )
    return page("Billing", body)


def portal_action(ctx: Ctx) -> Response:
    emu = ctx.emu
    portal = emu.store.get("portal_sessions", ctx.args["id"])
    action = str(ctx.params.get("action", ""))
    if action == "update_card":
        customer = emu.store.customer(portal["customer"])
        payment_methods.update_default_card(emu, customer, str(ctx.params.get("card", "")), PORTAL)
        return Response.redirect(f"/portal/{quote(portal['id'])}?done=card_updated")
    sub = emu.store.get("subscriptions", str(ctx.params.get("subscription", "")))
    if sub["customer"] != portal["customer"]:
        raise StripeError(403, "This subscription belongs to another customer.")
    if action == "cancel":
        lifecycle.update_subscription(emu, sub, cancel_at_period_end=True, req=PORTAL)
        done = "canceled"
    elif action == "resume":
        lifecycle.update_subscription(emu, sub, cancel_at_period_end=False, req=PORTAL)
        done = "resumed"
    elif action == "cancel_now":
        lifecycle.cancel_subscription(emu, sub, PORTAL)
        done = "canceled_now"
    elif action == "switch":
        lifecycle.update_subscription(emu, sub, price=str(ctx.params.get("price", "")), req=PORTAL)
        done = "switched"
    else:
        raise StripeError(400, f"Unknown portal action: {action}")
    return Response.redirect(f"/portal/{quote(portal['id'])}?done={done}")


ROUTES: list[Route] = [
    route("GET", "/portal/{id}", portal_page),
    route("POST", "/portal/{id}/action", portal_action),
]
