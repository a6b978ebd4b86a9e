"""List objects with Stripe's cursor pagination, and `expand[]` of id fields."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .errors import StripeError, invalid_param, no_such
from .store import Obj, snapshot
from .wire import Params, get_int, get_str

if TYPE_CHECKING:
    from .core import Emulator

# Which table an id-valued field points into when expanded.
EXPAND_TABLES = {
    "customer": "customers",
    "product": "products",
    "price": "prices",
    "default_price": "prices",
    "subscription": "subscriptions",
    "latest_invoice": "invoices",
    "invoice": "invoices",
    "payment_intent": "payment_intents",
    "latest_charge": "charges",
    "charge": "charges",
}
MAX_EXPAND_DEPTH = 4


def expand(emu: Emulator, obj: Obj, paths: list[str]) -> Obj:
    """A copy of `obj` with each dotted path's id replaced by its object."""
    if not paths:
        return obj
    out: Obj = snapshot(obj)
    for path in paths:
        if not isinstance(path, str) or not path:
            raise invalid_param("expand", "Invalid array")
        parts = path.split(".")
        if len(parts) > MAX_EXPAND_DEPTH:
            raise StripeError(
                400,
                f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property. "
                f"Property: {path}",
                param="expand",
                replayable=False,
            )
        _expand(emu, out, parts, path)
    return out


def _expand(emu: Emulator, node: Any, parts: list[str], full: str) -> None:
    if isinstance(node, list):
        for item in node:
            _expand(emu, item, parts, full)
        return
    if not isinstance(node, dict):
        return
    field, rest = parts[0], parts[1:]
    if field not in node and not _include(emu, node, field):
        hint = f" You may want to try expanding 'data.{full}' instead." if "data" in node else ""
        raise StripeError(
            400,
            f"This property cannot be expanded ({field}).{hint}",
            param="expand",
            replayable=False,
        )
    value = node[field]
    if isinstance(value, str):
        table = EXPAND_TABLES.get(field)
        resolved = emu.resolve(table, value) if table else None
        if table is None:
            raise StripeError(
                400,
                f"This property cannot be expanded ({field}).",
                param="expand",
                replayable=False,
            )
        if resolved is not None:
            value = node[field] = snapshot(resolved)
    if rest and value is not None:
        _expand(emu, value, rest, full)


def _include(emu: Emulator, node: Obj, field: str) -> bool:
    """Add a field Stripe returns only when expanded (`invoice.payments`); False if none."""
    if field == "payments" and node.get("object") == "invoice" and "id" in node:
        node["payments"] = invoice_payments_list(emu, node["id"])
        return True
    return False


def invoice_payments_list(emu: Emulator, invoice_id: str) -> Obj:
    """An invoice's payments as its includable `payments` list, newest first."""
    rows = reversed(emu.store.children("invoice_payments", invoice_id))
    return list_object(
        [snapshot(r) for r in rows], False, f"/v1/invoice_payments?invoice={invoice_id}"
    )


def list_object(data: list[Obj], has_more: bool, url: str) -> Obj:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def paginate(
    emu: Emulator,
    params: Params,
    newest_first: Iterable[Obj],
    url: str,
    render: Callable[[Obj], Obj] | None = None,
) -> Obj:
    """One page of objects already ordered newest first, honouring limit and cursors."""
    limit = get_int(params, "limit")
    if limit is None:
        limit = 10
    if not 1 <= limit <= 100:
        raise invalid_param(
            "limit",
            "This value must be greater than or equal to 1 and less than or equal to 100.",
            "parameter_invalid_integer",
        )
    seq = emu.store.seq
    after = get_str(params, "starting_after")
    before = get_str(params, "ending_before")
    render = render or emu.render
    if before:
        if before not in seq:
            raise no_such("object", before, "ending_before", 400)
        cut = seq[before]
        newer = [o for o in newest_first if seq[o["id"]] > cut]
        page = newer[-limit:]
        has_more = len(newer) > limit
    else:
        cut = None
        if after:
            if after not in seq:
                raise no_such("object", after, "starting_after", 400)
            cut = seq[after]
        page = []
        has_more = False
        for obj in newest_first:
            if cut is not None and seq[obj["id"]] >= cut:
                continue
            if len(page) == limit:
                has_more = True
                break
            page.append(obj)
    return list_object([render(o) for o in page], has_more, url)


def created_filter(params: Params, name: str = "created") -> Callable[[int], bool] | None:
    """`created=ts` or `created[gt|gte|lt|lte]=ts` as a predicate, or None."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        exact = get_int(params, name)
        return lambda ts: ts == exact
    if not isinstance(value, dict):
        raise invalid_param(name, "Invalid timestamp", "parameter_invalid_integer")
    bounds: dict[str, int] = {}
    for op, _raw in value.items():
        if op not in ("gt", "gte", "lt", "lte"):
            raise StripeError(
                400,
                f"Received unknown parameter: {name}[{op}]",
                code="parameter_unknown",
                param=f"{name}[{op}]",
                replayable=False,
            )
        parsed = get_int(value, op)
        if parsed is not None:
            bounds[op] = parsed

    def check(ts: int) -> bool:
        return (
            ("gt" not in bounds or ts > bounds["gt"])
            and ("gte" not in bounds or ts >= bounds["gte"])
            and ("lt" not in bounds or ts < bounds["lt"])
            and ("lte" not in bounds or ts <= bounds["lte"])
        )

    return check


def newest(table: dict[str, Obj]) -> Iterable[Obj]:
    """Dicts keep insertion order, which is creation order: reversed is newest first."""
    return reversed(table.values())
