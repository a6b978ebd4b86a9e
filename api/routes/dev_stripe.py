"""Development only: the demo page's developer panel drives the Stripe emulator through here.

The emulator serves no CORS headers (Stripe's API does not either), so the page cannot call
its control routes itself; these routes relay the few it needs, for signed-in callers only.
With real Stripe configured they answer 404: there is nothing to pause or settle by hand.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter

from api.deps import CurrentUser, SettingsDep
from api.errors import ApiError
from core.config import Settings
from core.emulator_control import EmulatorUnavailable, control
from models.dev_schemas import SettleRequest, WebhookStatePublic
from models.vocabulary import ErrorCode

# A Stripe object id: anything else cannot name a session, and must not reach a URL.
SESSION_ID = re.compile(r"[A-Za-z0-9_]{1,255}")

router = APIRouter(prefix="/api/v1/dev/stripe", tags=["development"])


async def _relay(
    settings: Settings, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    if not settings.uses_stripe_emulator:
        raise ApiError(404, ErrorCode.NOT_FOUND, "this stack uses real Stripe, not the emulator")
    try:
        return await control(settings, method, path, body)
    except EmulatorUnavailable as exc:
        if exc.status == 404:  # e.g. no such checkout session: the caller's mistake
            raise ApiError(404, ErrorCode.NOT_FOUND, str(exc)) from None
        if exc.status is not None and 400 <= exc.status < 500:
            raise ApiError(400, ErrorCode.BAD_REQUEST, str(exc)) from None
        raise ApiError(502, ErrorCode.BAD_GATEWAY, str(exc)) from None


def _webhooks(state: dict[str, Any]) -> WebhookStatePublic:
    return WebhookStatePublic(
        paused=bool(state["paused"]),
        backlog=int(state["backlog"]),
        queued=int(state["queued"]),
        in_flight=int(state["in_flight"]),
    )


@router.get("/webhooks", response_model=WebhookStatePublic, summary="Webhook delivery state")
async def webhook_state(_user: CurrentUser, settings: SettingsDep) -> WebhookStatePublic:
    return _webhooks(await _relay(settings, "GET", "webhooks"))


@router.post(
    "/webhooks/pause",
    response_model=WebhookStatePublic,
    summary="Hold every webhook (events stay listed in the Events API)",
)
async def pause_webhooks(_user: CurrentUser, settings: SettingsDep) -> WebhookStatePublic:
    return _webhooks(await _relay(settings, "POST", "webhooks/pause"))


@router.post(
    "/webhooks/resume",
    response_model=WebhookStatePublic,
    summary="Deliver the held webhooks in order and carry on",
)
async def resume_webhooks(_user: CurrentUser, settings: SettingsDep) -> WebhookStatePublic:
    return _webhooks(await _relay(settings, "POST", "webhooks/resume"))


@router.post(
    "/checkout-sessions/{session_id}/settle",
    summary="The bank's answer to a checkout paid by bank debit",
)
async def settle_bank_debit(
    session_id: str, body: SettleRequest, _user: CurrentUser, settings: SettingsDep
) -> dict[str, str]:
    if not SESSION_ID.fullmatch(session_id):
        raise ApiError(404, ErrorCode.NOT_FOUND, "no such checkout session")
    session = await _relay(
        settings, "POST", f"checkout/sessions/{session_id}/settle", {"succeeded": body.succeeded}
    )
    return {"id": str(session["id"]), "payment_status": str(session["payment_status"])}
