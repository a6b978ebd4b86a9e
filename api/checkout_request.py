"""How a checkout request's Idempotency-Key and body are read and, when bad, answered.

The caller is checked first (401/403/404), then the key (400), then the body (422): a bad body
from a caller who may not buy is never judged. The body is a declared pydantic model, so the
OpenAPI page shows it and /docs can send it; it is decoded whatever its Content-Type says and
only after the dependencies ran. A body that is not a JSON object (or is nested absurdly
deep) answers VALIDATION_ERROR, an object naming no self-serve plan and interval
PLAN_NOT_AVAILABLE, a body over 16 KiB 413 (api/bodies.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator

from api.bodies import BoundedBodyRoute, BoundedRequest, decode_json
from api.errors import ApiError
from models.schemas import CheckoutRequest
from models.vocabulary import ErrorCode


def idempotency_key(
    raw: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="A UUID; the same key with the same body replays the same session.",
        ),
    ] = None,
) -> uuid.UUID:
    if raw is None or not raw.strip():
        raise ApiError(
            400,
            ErrorCode.IDEMPOTENCY_KEY_REQUIRED,
            "the Idempotency-Key header (a UUID) is required",
        )
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise ApiError(
            400, ErrorCode.IDEMPOTENCY_KEY_INVALID, "the Idempotency-Key header must be a UUID"
        ) from None


IdempotencyKey = Annotated[uuid.UUID, Depends(idempotency_key)]


def _decoded(raw: Any) -> Any:
    # JSON whatever the Content-Type (a `curl -d` sends form-urlencoded); not JSON -> ValueError.
    return decode_json(raw) if isinstance(raw, bytes) else raw


CheckoutBody = Annotated[CheckoutRequest, BeforeValidator(_decoded)]


class _RawBodyRequest(BoundedRequest):
    """Hands FastAPI the undecoded body, so decoding errors surface during validation."""

    async def json(self) -> Any:
        # FastAPI would otherwise decode before the dependencies and answer a bad JSON body
        # with 422 even to a caller without a token.
        return await self.body()


def body_error(exc: RequestValidationError) -> ApiError | None:
    """The contract's answer to a checkout body that failed validation; None if not the body."""
    errors = exc.errors()
    if not errors or any(tuple(error["loc"][:1]) != ("body",) for error in errors):
        return None
    if any(len(error["loc"]) == 1 for error in errors):  # not JSON, or not an object
        return ApiError(422, ErrorCode.VALIDATION_ERROR, "the body must be a JSON object")
    return ApiError(
        422,
        ErrorCode.PLAN_NOT_AVAILABLE,
        "plan_slug must be pro or business and interval monthly or yearly",
    )


class CheckoutRoute(BoundedBodyRoute):
    """A route whose bounded body is decoded late and refused with the checkout's codes."""

    request_class = _RawBodyRequest

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                answer = body_error(exc)
                if answer is None:
                    raise  # anything else keeps the app-wide VALIDATION_ERROR mapping
                raise answer from None

        return route
