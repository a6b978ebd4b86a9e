"""Refuses a request whose path holds a NUL: it names no resource, and as a path parameter it
would reach PostgreSQL, which refuses NUL in text (a 500 found by the API fuzzer)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from models.vocabulary import ErrorCode


class NulPathGuard:
    """Pure ASGI middleware: 404 in the one error shape before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "\x00" in scope["path"]:
            response = error_response(404, ErrorCode.NOT_FOUND, "not found")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
