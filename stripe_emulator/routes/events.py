"""`/v1/events`: newest first, with type wildcards, created ranges and delivery status."""

from __future__ import annotations

from ..errors import invalid_param
from ..listing import created_filter, newest, paginate
from ..store import Obj
from ..web import Ctx, route
from ..wire import get_bool, get_list, get_str


def _type_matcher(pattern: str) -> tuple[str, bool]:
    # Stripe allows one trailing `*`, e.g. `customer.*` or `customer.subscription.*`.
    if pattern.endswith("*"):
        return pattern[:-1], True
    return pattern, False


def list_(ctx: Ctx) -> Obj:
    p = ctx.params
    single = get_str(p, "type")
    many = [str(t) for t in get_list(p, "types")]
    if single and many:
        raise invalid_param("types", "You may only specify one of these parameters: type, types.")
    if len(many) > 20:
        raise invalid_param("types", "You may specify at most 20 types.")
    patterns = [_type_matcher(t) for t in ([single] if single else many)]
    delivered = get_bool(p, "delivery_success")
    created = created_filter(p)

    def keep(e: Obj) -> bool:
        if patterns and not any(
            e["type"].startswith(pre) if wild else e["type"] == pre for pre, wild in patterns
        ):
            return False
        if delivered is not None and (e["pending_webhooks"] == 0) != delivered:
            return False
        return created is None or created(e["created"])

    items = (e for e in newest(ctx.emu.store.tables["events"]) if keep(e))
    return paginate(ctx.emu, p, items, "/v1/events")


def retrieve(ctx: Ctx) -> Obj:
    return ctx.emu.store.get("events", ctx.args["id"])


ROUTES = [
    route("GET", "/v1/events", list_, "GET /v1/events"),
    route("GET", "/v1/events/{id}", retrieve, "GET /v1/events/{id}"),
]
