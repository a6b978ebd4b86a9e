"""The ASGI application: Stripe auth, idempotency, fault injection and routing."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
from importlib import resources
from typing import Any

from . import control
from .api_faults import fault_error
from .core import Emulator
from .errors import StripeError
from .listing import expand
from .versions import KNOWN_API_VERSIONS, invalid_version
from .web import Ctx, Response, Route
from .wire import check_known, decode_form, get_list, request_id

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Any
Send = Any


def _load_operations() -> dict[str, frozenset[str]]:
    text = resources.files(__package__).joinpath("openapi_subset.json").read_text()
    ops: dict[str, list[str]] = json.loads(text)["operations"]
    return {name: frozenset(params) for name, params in ops.items()}


def _auth_error(header: str | None) -> StripeError | str:
    """The API key from `Authorization`, or Stripe's 401 answer."""
    if not header:
        return StripeError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
            "or we can help at https://support.stripe.com/.",
            replayable=False,
        )
    scheme, _, value = header.strip().partition(" ")
    key = value.strip()
    if scheme.lower() == "basic":
        # `curl -u sk_test_...:` sends the key as the Basic user name, which Stripe accepts.
        try:
            key = base64.b64decode(key).decode().partition(":")[0]
        except ValueError:
            key = ""
    elif scheme.lower() != "bearer":
        key = ""
    if key.startswith("sk_test_") and len(key) > len("sk_test_"):
        return key
    shown = f"{key[:8]}{'*' * 4}{key[-4:]}" if len(key) > 12 else key
    return StripeError(401, f"Invalid API Key provided: {shown}", replayable=False)


class EmulatorApp:
    """A raw ASGI app: no framework middleware, so a retrieve costs little more than a dict hit."""

    def __init__(self, emu: Emulator, api_routes: list[Route], other_routes: list[Route]):
        self.emu = emu
        self.api_routes = api_routes
        self.other_routes = other_routes
        self.operations = _load_operations()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        response = await self.handle(
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            body,
        )
        raw_headers = [
            (b"content-type", response.content_type.encode()),
            (b"content-length", str(len(response.body)).encode()),
            *((k.encode(), v.encode()) for k, v in response.headers),
        ]
        await send(
            {"type": "http.response.start", "status": response.status, "headers": raw_headers}
        )
        await send({"type": "http.response.body", "body": response.body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.emu.webhooks.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.emu.webhooks.aclose()
                self.emu.save()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _base_url(self, headers: dict[str, str]) -> str:
        if self.emu.config.public_url:
            return self.emu.config.public_url.rstrip("/")
        return f"http://{headers.get('host', '127.0.0.1')}"

    async def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Response:
        response = await self._route(method, path, query, headers, body)
        if method != "GET":
            # Saved before the answer leaves: what a caller was told survives a restart.
            self.emu.save()
        return response

    async def _route(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Response:
        rid = request_id()
        if path.startswith("/v1/"):
            asked = headers.get("stripe-version")
            response = await self._stripe(method, path, query, headers, body, rid, asked)
            response.headers.append(("request-id", rid))
            # Answer in the version asked for; a refused one falls back to the account's.
            known = asked is not None and asked in KNOWN_API_VERSIONS
            version = asked if asked is not None and known else self.emu.config.api_version
            response.headers.append(("stripe-version", version))
            return response
        refused = control.refusal(path, method, headers, self.emu.config.secret_key)
        if refused is not None:
            return refused
        for r in self.other_routes:
            match = r.pattern.match(path)
            if match and r.method == method:
                params = decode_form(query)
                if method == "POST" and "json" not in headers.get("content-type", ""):
                    params.update(decode_form(body.decode("utf-8", "replace")))
                ctx = Ctx(
                    self.emu,
                    method,
                    path,
                    match.groupdict(),
                    params,
                    headers,
                    rid,
                    self._base_url(headers),
                    body,
                )
                try:
                    result = await _call(r, ctx)
                except StripeError as exc:
                    return Response.json(exc.status, exc.body())
                except (ValueError, TypeError, KeyError) as exc:
                    return Response.json(
                        400, {"error": {"type": "invalid_request_error", "message": str(exc)}}
                    )
                return result if isinstance(result, Response) else Response.json(200, result)
        return _unrecognized(method, path)

    async def _stripe(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        rid: str,
        version: str | None,
    ) -> Response:
        key = _auth_error(headers.get("authorization"))
        if isinstance(key, StripeError):
            return Response.json(401, key.body())
        if version is not None and version not in KNOWN_API_VERSIONS:
            return Response.json(400, invalid_version(version).body(rid))
        found: Route | None = None
        match = None
        for r in self.api_routes:
            match = r.pattern.match(path)
            if match and r.method == method:
                found = r
                break
        if found is None or match is None:
            return _unrecognized(method, path)
        raw = query
        if method != "GET" and body:
            raw = (
                f"{query}&{body.decode('utf-8', 'replace')}"
                if query
                else body.decode("utf-8", "replace")
            )
        params = decode_form(raw)
        idem_key = headers.get("idempotency-key") if method == "POST" else None
        ctx = Ctx(
            self.emu,
            method,
            path,
            match.groupdict(),
            params,
            headers,
            rid,
            self._base_url(headers),
            body,
            key,
            idem_key,
        )
        if idem_key is None:
            return await self._execute(found, ctx)
        try:
            entry = self.emu.idempotency.begin(
                key, idem_key, method, path, params, rid, self.emu.config.idempotency_ttl
            )
        except StripeError as exc:
            return _error_response(exc, rid, idem_key)
        if entry is not None:
            assert entry.status is not None and entry.body is not None
            return Response(
                entry.status,
                entry.body,
                headers=[
                    ("idempotency-key", idem_key),
                    ("idempotent-replayed", "true"),
                    ("original-request", entry.request_id),
                ],
            )
        keep = False
        response = Response(500, b"")
        try:
            response, keep = await self._execute_tracked(found, ctx)
        finally:
            # A cancelled request (client gone) frees the key; otherwise store what it said.
            self.emu.idempotency.finish(key, idem_key, response.status, response.body, keep)
        response.headers.append(("idempotency-key", idem_key))
        return response

    async def _execute(self, r: Route, ctx: Ctx) -> Response:
        response, _ = await self._execute_tracked(r, ctx)
        return response

    async def _execute_tracked(self, r: Route, ctx: Ctx) -> tuple[Response, bool]:
        """Run a Stripe handler; the flag says whether an idempotent replay may store it."""
        try:
            fault = self.emu.api_faults.take(ctx.method, ctx.path)
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.mode != "slow":
                    raise fault_error(fault)
            if r.operation is not None:
                check_known(ctx.params, self.operations.get(r.operation))
            result = await _call(r, ctx)
            if not isinstance(result, Response):
                result = Response.json(
                    200, expand(self.emu, result, get_list(ctx.params, "expand"))
                )
            return result, True
        except StripeError as exc:
            return _error_response(exc, ctx.request_id, None), exc.replayable
        except Exception:
            log.exception("emulator bug on %s %s", ctx.method, ctx.path)
            err = StripeError(500, "An unknown error occurred", type="api_error")
            return _error_response(err, ctx.request_id, None), False


async def _call(r: Route, ctx: Ctx) -> Any:
    result = r.handler(ctx)
    if inspect.isawaitable(result):
        result = await result
    return result


def _error_response(exc: StripeError, rid: str, idem_key: str | None) -> Response:
    response = Response.json(exc.status, exc.body(rid))
    response.headers.extend(exc.headers.items())
    if idem_key:
        response.headers.append(("idempotency-key", idem_key))
    return response


def _unrecognized(method: str, path: str) -> Response:
    err = StripeError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
    )
    return Response.json(404, err.body())
