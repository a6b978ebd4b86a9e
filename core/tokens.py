"""Bearer tokens: HS256 with the shared secret, RS256/ES256 from an identity provider's JWKS,
checked for audience, issuer, expiry (with leeway) and age; `sub` is the user id."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from jwt import PyJWKClient, PyJWKClientConnectionError

from core.config import Settings

HS256 = "HS256"
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
ALGORITHM = HS256  # what `billing token` mints
JWKS_TIMEOUT_SECONDS = 5


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed, expired or names no user."""


class TokenCheckUnavailable(Exception):
    """The identity provider's JWKS could not be fetched: the token cannot be judged now."""


@dataclass(frozen=True)
class TokenPolicy:
    """What a token must satisfy; `secret` admits HS256, `jwks_url` RS256 and ES256."""

    secret: str | None = None
    audience: str | None = None
    issuer: str | None = None
    leeway_seconds: float = 30.0
    max_age_seconds: int | None = None
    jwks_url: str | None = None
    jwks_cache_seconds: int = 300
    # An unknown `kid` refetches the JWKS at most this often, so junk tokens cannot make
    # every request a fetch from the provider.
    jwks_refresh_cooldown_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenPolicy:
        return cls(
            secret=settings.auth_jwt_secret,
            audience=settings.auth_jwt_audience,
            issuer=settings.auth_jwt_issuer,
            leeway_seconds=settings.auth_jwt_leeway_seconds,
            max_age_seconds=settings.auth_jwt_max_age_seconds,
            jwks_url=settings.auth_jwks_url,
            jwks_cache_seconds=settings.auth_jwks_cache_seconds,
        )


class TokenVerifier:
    """One per process: the JWKS client caches the provider's keys (refetched on an unknown
    `kid`, so a key rotation is picked up without a restart)."""

    def __init__(self, policy: TokenPolicy) -> None:
        self.policy = policy
        self._jwks = (
            PyJWKClient(
                policy.jwks_url,
                cache_jwk_set=True,
                lifespan=policy.jwks_cache_seconds,
                cache_keys=True,
                timeout=JWKS_TIMEOUT_SECONDS,
                cooldown_duration=policy.jwks_refresh_cooldown_seconds,
            )
            if policy.jwks_url
            else None
        )

    def claims(
        self, token: str, *, allow_secret: bool = True, audience: str | None = None
    ) -> dict[str, Any]:
        """The verified claims. Blocking on a JWKS cache miss: call from a worker thread.

        The key is chosen by the token's `alg`, and each algorithm only ever with its own
        kind of key, so an HS256 token "signed" with a public key is refused.
        """
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            key: Any
            if algorithm == HS256 and allow_secret and self.policy.secret:
                key = self.policy.secret
            elif algorithm in ASYMMETRIC_ALGORITHMS and self._jwks is not None:
                signing = self._jwks.get_signing_key_from_jwt(token)
                if signing.algorithm_name != algorithm:
                    raise InvalidToken("the key's algorithm differs from the token's")
                key = signing.key
            else:
                raise InvalidToken(f"tokens signed with {algorithm!r} are not accepted")
            wanted = audience or self.policy.audience
            required = ["exp", "sub"] + (["iat"] if self.policy.max_age_seconds else [])
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=wanted,
                issuer=self.policy.issuer,
                leeway=self.policy.leeway_seconds,
                options={"require": required},
            )
        except PyJWKClientConnectionError:
            raise TokenCheckUnavailable("the identity provider's keys are unreachable") from None
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidToken(type(exc).__name__) from None
        self._check_age(claims)
        return claims

    def _check_age(self, claims: dict[str, Any]) -> None:
        limit = self.policy.max_age_seconds
        if limit is None:
            return
        issued = claims.get("iat")
        if not isinstance(issued, int | float):
            raise InvalidToken("iat is not a time")
        if time.time() - float(issued) > limit + self.policy.leeway_seconds:
            raise InvalidToken("the token is older than AUTH_JWT_MAX_AGE_SECONDS")

    def user_id(self, token: str) -> uuid.UUID:
        try:
            return uuid.UUID(str(self.claims(token)["sub"]))
        except ValueError:
            raise InvalidToken("sub is not a user id") from None


def mint_token(
    secret: str,
    user_id: uuid.UUID,
    *,
    ttl: timedelta = timedelta(days=30),
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": str(user_id), "iat": now, "exp": now + ttl}
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def user_id_from_token(secret: str, token: str) -> uuid.UUID:
    """The user of an HS256 token under default checks (local tools and tests)."""
    return TokenVerifier(TokenPolicy(secret=secret)).user_id(token)
