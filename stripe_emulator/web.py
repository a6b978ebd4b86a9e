"""Request context, responses and the route table shared by the API, control and page routes."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .wire import Params

if TYPE_CHECKING:
    from .core import Emulator, ReqInfo


@dataclass
class Ctx:
    """What a handler sees of one request."""

    emu: Emulator
    method: str
    path: str
    args: dict[str, str]
    params: Params
    headers: dict[str, str]
    request_id: str
    base_url: str
    body: bytes = b""
    api_key: str | None = None
    idempotency_key: str | None = None

    @property
    def req(self) -> ReqInfo:
        from .core import ReqInfo

        return ReqInfo(self.request_id, self.idempotency_key)

    def json(self) -> dict[str, Any]:
        """A control route's JSON body (the app refused any other content type already)."""
        if not self.body:
            return {}
        data = json.loads(self.body)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, data: Any) -> Response:
        return cls(status, json.dumps(data, separators=(",", ":")).encode())

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), "text/html; charset=utf-8")

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(303, b"", "text/plain", [("location", location)])


# A handler returns a JSON-able object (status 200) or a full Response.
Result = Any
Handler = Callable[[Ctx], Result | Awaitable[Result]]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    operation: str | None  # "GET /v1/customers/{customer}" for parameter validation


def route(method: str, template: str, handler: Handler, operation: str | None = None) -> Route:
    """`/v1/customers/{id}` → a regex with named groups; `operation` names its spec entry."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, re.compile(f"^{regex}$"), handler, operation)
