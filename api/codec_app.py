"""The codec endpoint (`POST /encode`, `POST /decode`) through which the Temporal UI and CLI
show encrypted payloads: an app and a port of its own (`billing codec-server`), never the
public API's, answering only the UI's OIDC tokens, the admin token, or — on the local
stack's loopback address only — anyone."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload, Payloads

from core.config import Settings, StartupError, get_settings
from core.payload_codec import codec_for
from core.payload_keys import PayloadKeyError
from core.temporal_connection import namespace_of
from core.tokens import InvalidToken, TokenCheckUnavailable, TokenPolicy, TokenVerifier

MAX_BODY_BYTES = 4 * 1024 * 1024
Codec = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]
# The UI and the CLI name the namespace whose payloads they show.
NamespaceHeader = Annotated[str | None, Header()]


class CodecAuth:
    """Who may use the codec: a token of the UI's identity provider (JWKS, the codec's
    audience — never the HS256 user tokens of the product), or the admin token (CLI)."""

    def __init__(self, settings: Settings) -> None:
        self.open = settings.codec_server_auth == "none"
        self.admin_token = settings.stripe_internal_admin_token
        self.audience = settings.codec_server_jwt_audience or settings.auth_jwt_audience
        self.verifier = (
            TokenVerifier(TokenPolicy.from_settings(settings)) if settings.auth_jwks_url else None
        )
        if not self.open and not self.admin_token and self.verifier is None:
            raise StartupError(
                "the codec endpoint needs AUTH_JWKS_URL (the UI's tokens) or "
                "STRIPE_INTERNAL_ADMIN_TOKEN (the CLI's --codec-auth)"
            )

    def allows(self, authorization: str | None) -> bool:
        """Blocking on a JWKS cache miss: FastAPI calls it on a worker thread."""
        if self.open:
            return True
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        if self.admin_token and hmac.compare_digest(token.encode(), self.admin_token.encode()):
            return True
        if self.verifier is None:
            return False
        try:
            self.verifier.claims(token, allow_secret=False, audience=self.audience)
        except (InvalidToken, TokenCheckUnavailable):
            return False
        return True


def _cors_origins(settings: Settings) -> list[str]:
    if settings.codec_server_cors_origins:
        return [o.strip() for o in settings.codec_server_cors_origins.split(",") if o.strip()]
    ui = urlsplit(settings.temporal_ui_url)
    return [f"{ui.scheme}://{ui.netloc}"]


def create_codec_app(settings: Settings | None = None) -> FastAPI:
    app_settings = settings or get_settings()
    auth = CodecAuth(app_settings)
    codec = codec_for(app_settings.payload_keys)
    namespace = namespace_of(app_settings)
    app = FastAPI(title="Billing payload codec", docs_url=None, redoc_url=None, openapi_url=None)

    def authorized(authorization: Annotated[str | None, Header()] = None) -> None:
        if not auth.allows(authorization):
            raise _Refused(401, "a valid bearer token is required")

    async def apply(request: Request, fn: Codec, x_namespace: str | None) -> Response:
        if x_namespace and x_namespace != namespace:
            return _error(403, f"this codec serves namespace {namespace} only")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "too many payloads in one request")
        try:
            payloads = json_format.Parse(body or b"{}", Payloads())
            encoded = Payloads(payloads=await fn(payloads.payloads))
        except (json_format.ParseError, DecodeError, UnicodeDecodeError):
            return _error(400, "the body must be Temporal Payloads as JSON")
        except PayloadKeyError as exc:
            return _error(400, str(exc))
        return Response(json_format.MessageToJson(encoded), media_type="application/json")

    @app.post("/encode", dependencies=[Depends(authorized)])
    async def encode(request: Request, x_namespace: NamespaceHeader = None) -> Response:
        return await apply(request, codec.encode, x_namespace)

    @app.post("/decode", dependencies=[Depends(authorized)])
    async def decode(request: Request, x_namespace: NamespaceHeader = None) -> Response:
        return await apply(request, codec.decode, x_namespace)

    @app.exception_handler(_Refused)
    async def refused(_: Request, exc: _Refused) -> JSONResponse:
        return _error(exc.status, exc.message, {"WWW-Authenticate": "Bearer"})

    # The UI calls from the operator's browser on its own origin; only that origin may.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=_cors_origins(app_settings),
        allow_methods=["POST"],
        allow_headers=["content-type", "x-namespace", "authorization"],
        allow_credentials=True,
    )
    return app


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    code = {400: "INVALID_PAYLOAD", 401: "UNAUTHENTICATED", 403: "FORBIDDEN"}.get(
        status, "PAYLOAD_TOO_LARGE"
    )
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )
