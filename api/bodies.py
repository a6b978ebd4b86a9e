"""Bounded request bodies for the workspace routes: too big is 413, too deep is 422, never 500.

Checkout and portal bodies are a few dozen bytes; a route of `BoundedBodyRoute` refuses a
body over MAX_BODY_BYTES (declared or streamed) before anything reads it whole, and
`decode_json` refuses JSON nested deeper than MAX_NESTING (or NaN and Infinity, which are
not JSON) instead of letting the decoder's recursion fail the request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

MAX_BODY_BYTES = 16 * 1024
MAX_NESTING = 32


def _too_large() -> HTTPException:
    # FastAPI passes an HTTPException raised while reading the body through unchanged.
    return HTTPException(413, f"the request body exceeds {MAX_BODY_BYTES} bytes")


def _declared_too_large(request: Request) -> bool:
    declared = request.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > MAX_BODY_BYTES


class BoundedRequest(Request):
    """A request whose body is read at most MAX_BODY_BYTES far."""

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            chunks: list[bytes] = []
            size = 0
            async for chunk in self.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _too_large()
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body


def _depth(value: Any) -> int:
    """Nesting depth of decoded JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _not_json(constant: str) -> Any:
    # Python reads NaN and Infinity; JSON (and PostgreSQL's jsonb) has no such numbers.
    raise ValueError(f"{constant} is not JSON")


def decode_json(raw: bytes | str, *, max_nesting: int = MAX_NESTING) -> Any:
    """JSON of a bounded body; ValueError (a validation error) for anything else."""
    try:
        value = json.loads(raw, parse_constant=_not_json)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {max_nesting} levels") from None
    if _depth(value) > max_nesting:
        raise ValueError(f"JSON nested deeper than {max_nesting} levels")
    return value


class BoundedBodyRoute(APIRoute):
    """Refuses a declared oversize body at once and reads any other one with a bound."""

    request_class: type[Request] = BoundedRequest

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        request_class = self.request_class

        async def route(request: Request) -> Response:
            if _declared_too_large(request):
                raise _too_large()
            return await handler(request_class(request.scope, request.receive))

        return route
