"""The offline Stripe emulator's control routes (`/_emulator/...`), for development tools only.

These are not Stripe's API: they pause webhook delivery or settle a bank debit the way a
test or a person at the demo page would. Real Stripe has no such routes, so callers check
`Settings.uses_stripe_emulator` first.
"""

from __future__ import annotations

from typing import Any

import httpx

from core.config import Settings

TIMEOUT_SECONDS = 5.0


class EmulatorUnavailable(RuntimeError):
    """The emulator did not answer, or refused the request (its message is kept)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the emulator's HTTP status when it answered


async def control(
    settings: Settings, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Call `/_emulator/{path}` with the secret key as bearer, as the emulator's docs ask."""
    url = f"{settings.stripe_api_base.rstrip('/')}/_emulator/{path}"
    headers = {"Authorization": f"Bearer {settings.stripe_secret_key}"}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
            # Control routes take JSON bodies only: a POST without one still sends `{}`.
            payload = body if body is not None or method == "GET" else {}
            response = await http.request(method, url, json=payload, headers=headers)
    except httpx.HTTPError as exc:
        raise EmulatorUnavailable(
            f"the Stripe emulator is unreachable ({type(exc).__name__})"
        ) from exc
    if response.status_code >= 400:
        try:
            message = str(response.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            message = f"the Stripe emulator answered {response.status_code}"
        raise EmulatorUnavailable(message, response.status_code)
    answer: dict[str, Any] = response.json()
    return answer
