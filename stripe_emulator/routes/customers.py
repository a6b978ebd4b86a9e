"""`/v1/customers`: create, retrieve (deleted → stub), update, delete, list."""

from __future__ import annotations

from typing import Any

from .. import lifecycle, objects
from ..errors import invalid_param
from ..listing import created_filter, newest, paginate
from ..store import Obj
from ..web import Ctx, route
from ..wire import get_str, merge_metadata, now

FIELDS = ("email", "name", "description", "phone")


def create(ctx: Ctx) -> Obj:
    p = ctx.params
    values = {f: get_str(p, f) or None for f in FIELDS}
    email = values["email"]
    if email is not None and "@" not in email:
        raise invalid_param("email", f"Invalid email address: {email}", "email_invalid")
    cus = objects.customer(
        now(),
        email=email,
        name=values["name"],
        description=values["description"],
        phone=values["phone"],
        metadata=merge_metadata({}, p.get("metadata")),
    )
    ctx.emu.store.add("customers", cus)
    ctx.emu.emit("customer.created", cus, ctx.req)
    return cus


def retrieve(ctx: Ctx) -> Obj:
    cid = ctx.args["customer"]
    deleted = ctx.emu.store.deleted_customers.get(cid)
    if deleted is not None:
        return deleted
    return ctx.emu.store.customer(cid)


def update(ctx: Ctx) -> Obj:
    cus = ctx.emu.store.customer(ctx.args["customer"])
    p = ctx.params
    previous: dict[str, Any] = {}
    for f in FIELDS:
        if f in p:
            value = get_str(p, f) or None
            if value != cus[f]:
                previous[f] = cus[f]
                cus[f] = value
    if "metadata" in p:
        new_meta = merge_metadata(cus["metadata"], p["metadata"])
        if new_meta != cus["metadata"]:
            previous["metadata"] = lifecycle.metadata_previous(cus["metadata"], new_meta)
            cus["metadata"] = new_meta
    if previous:
        ctx.emu.emit("customer.updated", cus, ctx.req, previous)
    return cus


def delete(ctx: Ctx) -> Obj:
    cus = ctx.emu.store.customer(ctx.args["customer"])
    return lifecycle.delete_customer(ctx.emu, cus, ctx.req, silent=False)


def list_(ctx: Ctx) -> Obj:
    email = get_str(ctx.params, "email")
    created = created_filter(ctx.params)
    items = (
        c
        for c in newest(ctx.emu.store.tables["customers"])
        if (email is None or c["email"] == email) and (created is None or created(c["created"]))
    )
    return paginate(ctx.emu, ctx.params, items, "/v1/customers")


ROUTES = [
    route("POST", "/v1/customers", create, "POST /v1/customers"),
    route("GET", "/v1/customers", list_, "GET /v1/customers"),
    route("GET", "/v1/customers/{customer}", retrieve, "GET /v1/customers/{customer}"),
    route("POST", "/v1/customers/{customer}", update, "POST /v1/customers/{customer}"),
    route("DELETE", "/v1/customers/{customer}", delete, "DELETE /v1/customers/{customer}"),
]
