"""The main application's side of entitlement notices, for tests: a local HTTP receiver that
checks `Billing-Signature` itself and answers from a script (500s, hangs, then 200s)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from ops.processes import free_port

APP_WEBHOOK_SECRET = "test-app-webhook-secret-0123456789abcdef"


def signature_ok(header: str, body: bytes, secret: str = APP_WEBHOOK_SECRET) -> bool:
    """README's verification, written out: t and v1 from the header, HMAC-SHA256 of "t.body"."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - int(parts["t"])) < 300
    return fresh and hmac.compare_digest(expected.hexdigest(), parts["v1"])


@dataclass
class Received:
    id: str
    version: int
    body: dict[str, Any]
    signed: bool
    answered: int  # the status this receiver answered (0: it hung up without answering)
    at: float


@dataclass
class Receiver:
    """Answers each notice of a workspace with the next step of that workspace's script: an
    HTTP status, ("hang", seconds) or ("hold",) — no answer until `release()`; 200 once the
    script runs out (and for workspaces without one)."""

    url: str = ""
    scripts: dict[str, list[Any]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()

    def delivered(self) -> list[Received]:
        """What the receiver acknowledged (2xx) with a valid signature, in arrival order."""
        return [r for r in self.received if r.signed and 200 <= r.answered < 300]

    def newest(self, workspace_id: str) -> int:
        versions = [r.version for r in self.delivered() if r.body["workspace_id"] == workspace_id]
        return max(versions, default=0)

    def of(self, workspace_id: str) -> list[Received]:
        """Every request about one workspace, in arrival order."""
        return [r for r in self.received if r.body["workspace_id"] == workspace_id]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        parsed = json.loads(body)
        script = self.scripts.get(parsed["workspace_id"]) or []
        step = script.pop(0) if script else 200
        record = Received(
            parsed["id"],
            parsed["version"],
            parsed,
            signature_ok(headers.get("billing-signature", ""), body),
            0,
            time.monotonic(),
        )
        self.received.append(record)
        if isinstance(step, tuple):
            # No answer: the sender's budget runs out first (or the sender is gone).
            if step[0] == "hang":
                await asyncio.sleep(step[1])
            else:
                await self.released.wait()
            return
        record.answered = int(step)
        await send({"type": "http.response.start", "status": int(step), "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@asynccontextmanager
async def serve_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            receiver,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    receiver.url = f"http://127.0.0.1:{port}/billing/entitlements"
    try:
        yield receiver
    finally:
        receiver.release()
        server.should_exit = True
        await serving
