"""A local identity provider for tests: RSA and EC keys, a JWKS served over HTTP on
127.0.0.1 (counting its fetches), and tokens signed RS256 or ES256."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://idp.billing.test/"
AUDIENCE = "billing-api"


@dataclass
class IdentityProvider:
    """Keys by kid; `publish` decides which public keys the JWKS shows."""

    keys: dict[str, Any] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    fetches: int = 0
    url: str = ""

    def add_key(self, kid: str, kind: str) -> None:
        self.keys[kid] = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if kind == "RS256"
            else ec.generate_private_key(ec.SECP256R1())
        )
        self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        found = []
        for kid in self.published:
            key = self.keys[kid]
            if isinstance(key, rsa.RSAPrivateKey):
                jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
                jwk["alg"] = "RS256"
            else:
                jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
                jwk["alg"] = "ES256"
            jwk.update(kid=kid, use="sig")
            found.append(jwk)
        return {"keys": found}

    def token(
        self,
        kid: str,
        user: uuid.UUID,
        *,
        audience: str = AUDIENCE,
        issuer: str = ISSUER,
        ttl: float = 300,
        issued_ago: float = 0,
    ) -> str:
        key = self.keys[kid]
        algorithm = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        now = time.time()
        claims = {
            "sub": str(user),
            "aud": audience,
            "iss": issuer,
            "iat": int(now - issued_ago),
            "exp": int(now + ttl),
        }
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


@contextmanager
def identity_provider() -> Iterator[IdentityProvider]:
    """An IdP with one RS256 and one ES256 key, its JWKS at `provider.url`."""
    provider = IdentityProvider()
    provider.add_key("rsa-1", "RS256")
    provider.add_key("ec-1", "ES256")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            provider.fetches += 1
            body = json.dumps(provider.jwks()).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
