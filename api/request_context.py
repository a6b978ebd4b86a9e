"""Per-request log context: every line logged while serving a request carries its request id
(the caller's X-Request-Id, else a new one) and the workspace id of the path."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.logging import log_context

WORKSPACE_PATH = re.compile(r"/workspaces/([0-9a-fA-F-]{36})(?:/|$)")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestLogContext:
    """Pure ASGI middleware (no body buffering), echoing the id as X-Request-Id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), ""
        )
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        workspace = WORKSPACE_PATH.search(scope["path"])

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        with log_context(
            request_id=request_id, workspace_id=workspace.group(1) if workspace else None
        ):
            await self.app(scope, receive, send_with_id)
