"""The Stripe emulator as its own process, logging when each service call arrived (rate checks).

`python -m tests.faults.counting_emulator --port P --webhook-secret S --seed-catalog test`.
The emulator itself is untouched: this wraps its ASGI app, notes the arrival time of every
`/v1/` request made with the service's key (the test's own calls use another key), and
serves the log at `GET /_faults/stripe-calls`; `POST /_emulator/reset` also clears it.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import uvicorn

from stripe_emulator import create_app
from stripe_emulator.config import EmulatorConfig

SERVICE_KEY = "sk_test_emulator"
LOG_PATH = "/_faults/stripe-calls"


class CountingApp:
    """ASGI wrapper: `calls` holds (unix time, method, path) of the service's Stripe calls."""

    def __init__(self, inner: Any, service_key: str) -> None:
        self.inner = inner
        self.auth = f"Bearer {service_key}".encode()
        self.calls: list[tuple[float, str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == LOG_PATH:
                await self._answer(send)
                return
            if path == "/_emulator/reset":
                self.calls.clear()
            elif path.startswith("/v1/") and (b"authorization", self.auth) in scope["headers"]:
                self.calls.append((time.time(), scope["method"], path))
        await self.inner(scope, receive, send)

    async def _answer(self, send: Any) -> None:
        body = json.dumps({"calls": self.calls}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--webhook-secret", required=True)
    parser.add_argument("--seed-catalog", default="test")
    args = parser.parse_args(argv)
    config = EmulatorConfig(webhook_secret=args.webhook_secret, retry_base_delay=0.2)
    app = CountingApp(create_app(config, seed_env=args.seed_catalog), SERVICE_KEY)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        interface="asgi3",
    )


if __name__ == "__main__":
    main()
