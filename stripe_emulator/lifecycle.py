"""State changes Stripe makes on its own: checkout completion, renewals, cancellations."""

from __future__ import annotations

from typing import Any

from . import invoices, objects
from .core import AUTOMATIC, Emulator, ReqInfo
from .errors import StripeError, invalid_param, no_such
from .store import Obj, snapshot
from .wire import now

ENDED = ("canceled", "incomplete_expired")
STATUSES = (
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
)


def metadata_previous(old: dict[str, str], new: dict[str, str]) -> dict[str, Any]:
    """Stripe lists the old value of each changed key (null for keys that were added)."""
    return {k: old.get(k) for k in set(old) | set(new) if old.get(k) != new.get(k)}


def apply_update(
    emu: Emulator, obj: Obj, changes: dict[str, Any], event_type: str, req: ReqInfo
) -> dict[str, Any]:
    """Set changed fields and emit `event_type` with their previous values, if any changed."""
    previous: dict[str, Any] = {}
    for key, value in changes.items():
        if obj.get(key) != value:
            old = obj.get(key)
            previous[key] = metadata_previous(old or {}, value) if key == "metadata" else old
            obj[key] = value
    if previous:
        if "updated" in obj:
            obj["updated"] = now()
        emu.emit(event_type, obj, req, previous)
    return previous


def delete_customer(emu: Emulator, cus: Obj, req: ReqInfo, *, silent: bool) -> Obj:
    """Stripe cancels the customer's subscriptions, then deletes it; silent skips events."""
    store = emu.store
    if not silent:
        for sub in list(store.tables["subscriptions"].values()):
            if sub["customer"] == cus["id"] and sub["status"] not in ENDED:
                cancel_subscription(emu, sub, req)
    del store.tables["customers"][cus["id"]]
    stub = objects.deleted_customer(cus["id"])
    store.deleted_customers[cus["id"]] = stub
    if not silent:
        emu.emit("customer.deleted", cus, req)
    return stub


def items_list(emu: Emulator, sub: Obj) -> Obj:
    """The subscription's `items` list as the API shows it now (for previous_attributes)."""
    items: Obj = snapshot(emu.render(sub)["items"])
    return items


def create_subscription(
    emu: Emulator,
    customer_id: str,
    line_items: list[dict[str, Any]],
    metadata: dict[str, str],
    status: str,
) -> Obj:
    start = now()
    first_price = emu.store.tables["prices"][line_items[0]["price"]]
    sub = objects.subscription(
        start,
        customer_id=customer_id,
        currency=first_price["currency"],
        status=status,
        metadata=dict(metadata),
    )
    for line in line_items:
        price = emu.store.tables["prices"][line["price"]]
        rec = price["recurring"] or {"interval": "month", "interval_count": 1}
        end = objects.add_interval(start, rec["interval"], rec["interval_count"])
        item = objects.subscription_item(
            start, sub["id"], price["id"], line["quantity"], start, end
        )
        emu.store.add("subscription_items", item)
        sub["items"]["data"].append(item)
    return emu.store.add("subscriptions", sub)


def complete_checkout(emu: Emulator, session: Obj, outcome: str, req: ReqInfo = AUTOMATIC) -> Obj:
    """Pay (or fail) a subscription-mode session, emitting Stripe's events in its order."""
    if outcome not in ("paid", "incomplete"):
        raise invalid_param("outcome", "outcome must be 'paid' or 'incomplete'")
    if session["status"] != "open":
        raise StripeError(
            400, f"This Checkout Session is {session['status']} and can no longer be paid."
        )
    store = emu.store
    customer_id = session["customer"]
    if customer_id is None:
        # Subscription mode always creates a customer when none was given.
        email = session["customer_email"] or f"{session['id'][-8:].lower()}@example.com"
        cus = objects.customer(
            now(), email=email, name=None, description=None, phone=None, metadata={}
        )
        store.add("customers", cus)
        emu.emit("customer.created", cus, req)
        customer_id = cus["id"]
    elif customer_id not in store.tables["customers"]:
        raise no_such("customer", customer_id, "customer", 400)
    paid = outcome == "paid"
    sub = create_subscription(
        emu,
        customer_id,
        session["_line_items"],
        session["_subscription_metadata"],
        "active" if paid else "incomplete",
    )
    inv = emu.store.add("invoices", invoices.build(emu, sub, "subscription_create"))
    sub["latest_invoice"] = inv["id"]
    emu.emit("customer.subscription.created", emu.render(sub), req)
    emu.emit("invoice.created", inv, req)
    invoices.finalize(emu, inv, req)
    invoices.attempt(emu, inv, paid, req)
    cus = store.tables["customers"][customer_id]
    session.update(
        status="complete",
        payment_status="paid" if paid else "unpaid",
        url=None,  # Stripe only shows the hosted URL while the session is open
        customer=customer_id,
        subscription=sub["id"],
        customer_details={
            "address": None,
            "business_name": None,
            "email": cus["email"],
            "individual_name": None,
            "name": cus["name"],
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
    )
    emu.emit("checkout.session.completed", emu.render(session), req)
    return session


def expire_checkout(emu: Emulator, session: Obj, req: ReqInfo) -> Obj:
    if session["status"] != "open":
        raise StripeError(
            400,
            'Only Checkout Sessions with a status in ["open"] can be expired.',
        )
    session.update(status="expired", url=None)
    emu.emit("checkout.session.expired", emu.render(session), req)
    return session


def _emit_sub_updated(emu: Emulator, sub: Obj, previous: dict[str, Any], req: ReqInfo) -> None:
    if previous:
        emu.emit("customer.subscription.updated", emu.render(sub), req, previous)


def cancel_subscription(
    emu: Emulator, sub: Obj, req: ReqInfo, reason: str = "cancellation_requested"
) -> Obj:
    if sub["status"] in ENDED:
        raise StripeError(
            400,
            "A canceled subscription can only update its cancellation_details and metadata.",
        )
    ts = now()
    sub.update(status="canceled", canceled_at=sub["canceled_at"] or ts, ended_at=ts)
    sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": reason}
    emu.emit("customer.subscription.deleted", emu.render(sub), req)
    return sub


def set_cancel_at_period_end(sub: Obj, flag: bool, previous: dict[str, Any]) -> None:
    if sub["cancel_at_period_end"] == flag:
        return
    for key in ("cancel_at_period_end", "cancel_at", "canceled_at", "cancellation_details"):
        previous[key] = snapshot(sub[key])
    items = sub["items"]["data"]
    if flag:
        sub["cancel_at"] = items[0]["current_period_end"] if items else now()
        sub["canceled_at"] = now()
        sub["cancellation_details"] = {
            "comment": None,
            "feedback": None,
            "reason": "cancellation_requested",
        }
    else:
        sub["cancel_at"] = None
        sub["canceled_at"] = None
        sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": None}
    sub["cancel_at_period_end"] = flag


def change_price(
    emu: Emulator,
    sub: Obj,
    price_id: str,
    previous: dict[str, Any],
    item_id: str | None = None,
    quantity: int | None = None,
    param: str = "price",
) -> None:
    """Swap an item's price (no proration invoice is generated by the emulator)."""
    price = emu.store.tables["prices"].get(price_id)
    if price is None:
        raise no_such("price", price_id, param, 400)
    if not price["active"]:
        raise invalid_param(
            param,
            "The price specified is inactive. This field only accepts active prices.",
            "resource_missing",
        )
    items = sub["items"]["data"]
    item = next((i for i in items if i["id"] == item_id), None) if item_id else items[0]
    if item is None:
        raise no_such("subscription_item", item_id or "", "items[0][id]", 400)
    if item["price"] == price_id and (quantity is None or quantity == item["quantity"]):
        return
    previous.setdefault("items", items_list(emu, sub))
    item["price"] = price_id
    if quantity is not None:
        item["quantity"] = quantity


def update_subscription(
    emu: Emulator,
    sub: Obj,
    *,
    status: str | None = None,
    price: str | None = None,
    cancel_at_period_end: bool | None = None,
    metadata: dict[str, str] | None = None,
    req: ReqInfo = AUTOMATIC,
) -> Obj:
    """The control route's and the portal's change: one customer.subscription.updated."""
    if status == "canceled":
        return cancel_subscription(emu, sub, req)
    previous: dict[str, Any] = {}
    if price is not None:
        change_price(emu, sub, price, previous)
    if cancel_at_period_end is not None:
        set_cancel_at_period_end(sub, cancel_at_period_end, previous)
    if metadata is not None and metadata != sub["metadata"]:
        previous["metadata"] = metadata_previous(sub["metadata"], metadata)
        sub["metadata"] = metadata
    if status is not None and status != sub["status"]:
        if status not in STATUSES:
            raise invalid_param("status", f"status must be one of {', '.join(STATUSES)}")
        previous["status"] = sub["status"]
        sub["status"] = status
    _emit_sub_updated(emu, sub, previous, req)
    return sub


def invoice_cycle(emu: Emulator, sub: Obj, paid: bool, req: ReqInfo = AUTOMATIC) -> Obj:
    """Retry the open invoice, or renew for the next period; then adjust the status."""
    if sub["status"] in ENDED:
        raise StripeError(400, f"Subscription {sub['id']} is {sub['status']}.")
    latest = emu.store.tables["invoices"].get(sub["latest_invoice"] or "")
    if latest is not None and latest["status"] == "open":
        invoices.attempt(emu, latest, paid, req)
        inv = latest
    else:
        previous: dict[str, Any] = {
            "items": items_list(emu, sub),
            "latest_invoice": sub["latest_invoice"],
        }
        for item in sub["items"]["data"]:
            rec = emu.store.tables["prices"][item["price"]]["recurring"] or {}
            start = item["current_period_end"]
            item["current_period_start"] = start
            item["current_period_end"] = objects.add_interval(
                start, rec.get("interval", "month"), rec.get("interval_count", 1)
            )
        inv = invoices.create(emu, sub, "subscription_cycle", req)
        _emit_sub_updated(emu, sub, previous, req)
        invoices.finalize(emu, inv, req)
        invoices.attempt(emu, inv, paid, req)
    status = sub["status"]
    if paid and status in ("past_due", "unpaid", "incomplete"):
        _emit_sub_updated(emu, sub, _set_status(sub, "active"), req)
    elif not paid and status == "active":
        # Default settings: a failed renewal makes the subscription past_due.
        _emit_sub_updated(emu, sub, _set_status(sub, "past_due"), req)
    return inv


def _set_status(sub: Obj, status: str) -> dict[str, Any]:
    previous = {"status": sub["status"]}
    sub["status"] = status
    return previous
