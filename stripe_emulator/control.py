"""Control routes under `/_emulator/` (not Stripe's) for tests, the demo and operators."""

from __future__ import annotations

import hmac
from typing import Any

from . import checkout_flow, lifecycle, versions
from .config import READ_ONLY
from .errors import StripeError, invalid_param
from .seed import seed_catalog
from .store import Obj
from .web import Ctx, Response, Route, route

CONTROL_PREFIX = "/_emulator/"
# Liveness stays open so a supervisor can wait for the port without holding the key.
OPEN_PATHS = frozenset({"/_emulator/health"})


def refusal(path: str, method: str, headers: dict[str, str], secret_key: str) -> Response | None:
    """Why a control request is refused, or None: the emulator's secret key as a bearer
    token, and JSON bodies only — so no web page can drive the emulator with a form post
    (a cross-origin request cannot add either header without a CORS grant we never give)."""
    if not path.startswith(CONTROL_PREFIX) or path in OPEN_PATHS:
        return None
    scheme, _, presented = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), secret_key.encode()
    ):
        return _refused(401, "control routes need the emulator's secret key as a bearer token")
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if method == "POST" and ctype != "application/json":
        return _refused(415, "control routes take JSON bodies (Content-Type: application/json)")
    return None


def _refused(status: int, message: str) -> Response:
    return Response.json(status, {"error": {"type": "invalid_request_error", "message": message}})


def _bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1"):
        return True
    if str(value).lower() in ("false", "0"):
        return False
    raise invalid_param(name, f"{name} must be a boolean")


def reset(ctx: Ctx) -> Obj:
    body = ctx.json()
    ctx.emu.reset(keep_config=_bool(body, "keep_config") is not False)
    return {"ok": True}


def complete_checkout(ctx: Ctx) -> Obj:
    """`{"outcome": "paid"|"incomplete"|"processing"}` (a bank debit still in flight)."""
    session = ctx.emu.store.get("checkout_sessions", ctx.args["id"])
    outcome = str(ctx.json().get("outcome", "paid"))
    checkout_flow.complete_checkout(ctx.emu, session, outcome)
    return ctx.emu.render(session)


def settle_checkout(ctx: Ctx) -> Obj:
    """`{"succeeded": bool}`: the bank's answer to a `processing` session's debit."""
    session = ctx.emu.store.get("checkout_sessions", ctx.args["id"])
    succeeded = _bool(ctx.json(), "succeeded")
    if succeeded is None:
        raise StripeError.missing("succeeded")
    checkout_flow.settle_checkout(ctx.emu, session, succeeded)
    return ctx.emu.render(session)


def update_subscription(ctx: Ctx) -> Obj:
    sub = ctx.emu.store.get("subscriptions", ctx.args["id"])
    body = ctx.json()
    metadata = body.get("metadata")
    lifecycle.update_subscription(
        ctx.emu,
        sub,
        status=body.get("status"),
        price=body.get("price"),
        cancel_at_period_end=_bool(body, "cancel_at_period_end"),
        metadata=dict(metadata) if isinstance(metadata, dict) else None,
    )
    return ctx.emu.render(sub)


def invoice_subscription(ctx: Ctx) -> Obj:
    sub = ctx.emu.store.get("subscriptions", ctx.args["id"])
    paid = _bool(ctx.json(), "paid")
    inv = lifecycle.invoice_cycle(ctx.emu, sub, True if paid is None else paid)
    return {"subscription": ctx.emu.render(sub), "invoice": inv}


def delete_silently(ctx: Ctx) -> Obj:
    """`mode: deleted` (default) retrieves as deleted; `missing` as never existing."""
    emu = ctx.emu
    cus = emu.store.customer(ctx.args["id"])
    mode = str(ctx.json().get("mode", "deleted"))
    if mode not in ("deleted", "missing"):
        raise invalid_param("mode", "mode must be 'deleted' or 'missing'")
    stub = lifecycle.delete_customer(emu, cus, ctx.req, silent=True)
    if mode == "missing":
        del emu.store.deleted_customers[cus["id"]]
        return {"id": cus["id"], "missing": True}
    return stub


def pause(ctx: Ctx) -> Obj:
    ctx.emu.webhooks.pause()
    return _webhook_state(ctx)


def resume(ctx: Ctx) -> Obj:
    ctx.emu.webhooks.resume()
    return _webhook_state(ctx)


def _webhook_state(ctx: Ctx) -> Obj:
    hooks = ctx.emu.webhooks
    return {
        "paused": hooks.paused,
        "backlog": len(hooks.backlog),
        "queued": hooks.queue.qsize(),
        "in_flight": hooks.in_flight,
        "idle": hooks.idle,
        "deliveries": len(hooks.log),
    }


def deliveries(ctx: Ctx) -> Obj:
    p = ctx.params
    rows = ctx.emu.webhooks.log
    if p.get("event_id"):
        rows = [r for r in rows if r["event_id"] == p["event_id"]]
    if p.get("type"):
        rows = [r for r in rows if r["type"] == p["type"]]
    if p.get("ok") in ("true", "false"):
        rows = [r for r in rows if r["ok"] == (p["ok"] == "true")]
    return {"object": "list", "data": rows, **_webhook_state(ctx)}


def get_config(ctx: Ctx) -> Obj:
    return ctx.emu.config.public()


def set_config(ctx: Ctx) -> Obj:
    changes = ctx.json()
    names = set(ctx.emu.config.public())
    unknown = sorted(set(changes) - names)
    if unknown:
        raise StripeError(400, f"Unknown config keys: {', '.join(unknown)}")
    # A config read back and posted whole is fine; changing a read-only value is not.
    for key, value in READ_ONLY.items():
        if key in changes and changes.pop(key) != value:
            raise StripeError(400, f"{key} is read-only")
    if "api_version" in changes:
        versions.check_version(str(changes["api_version"]))
    try:
        ctx.emu.configure(changes)
    except ValueError as exc:
        raise StripeError(400, str(exc)) from None
    return ctx.emu.config.public()


def state(ctx: Ctx) -> Obj:
    emu = ctx.emu
    return {
        **emu.store.counts(),
        "idempotency_keys": len(emu.idempotency.entries),
        "api_faults_fired": len(emu.api_faults.fired),
        "webhooks": _webhook_state(ctx),
    }


def seed(ctx: Ctx) -> Obj:
    body = ctx.json()
    return seed_catalog(ctx.emu, str(body.get("env", "dev")), events=_bool(body, "events") is True)


def health(ctx: Ctx) -> Obj:
    return {"ok": True}


ROUTES: list[Route] = [
    route("POST", "/_emulator/reset", reset),
    route("POST", "/_emulator/checkout/sessions/{id}/complete", complete_checkout),
    route("POST", "/_emulator/checkout/sessions/{id}/settle", settle_checkout),
    route("POST", "/_emulator/subscriptions/{id}/update", update_subscription),
    route("POST", "/_emulator/subscriptions/{id}/invoice", invoice_subscription),
    route("POST", "/_emulator/customers/{id}/delete-silently", delete_silently),
    route("POST", "/_emulator/webhooks/pause", pause),
    route("POST", "/_emulator/webhooks/resume", resume),
    route("GET", "/_emulator/webhooks", lambda ctx: _webhook_state(ctx)),
    route("GET", "/_emulator/deliveries", deliveries),
    route("GET", "/_emulator/config", get_config),
    route("POST", "/_emulator/config", set_config),
    route("GET", "/_emulator/state", state),
    route("POST", "/_emulator/seed-catalog", seed),
    route("GET", "/_emulator/health", health),
]
