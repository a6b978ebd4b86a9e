"""Bearer tokens from a real identity provider: RS256 and ES256 through a JWKS served here,
cached, with audience, issuer, leeway and maximum age; HS256 stays the shared secret's."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api.main import create_app
from core.config import Settings
from core.tokens import (
    InvalidToken,
    TokenCheckUnavailable,
    TokenPolicy,
    TokenVerifier,
    mint_token,
)
from ops.processes import free_port
from tests.conftest import JWT_SECRET, create_workspace
from tests.jwks_support import AUDIENCE, ISSUER, IdentityProvider, identity_provider

USER = uuid.uuid4()


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with identity_provider() as provider:
        yield provider


def verifier(idp: IdentityProvider, **policy: object) -> TokenVerifier:
    values: dict[str, object] = {
        "secret": JWT_SECRET,
        "audience": AUDIENCE,
        "issuer": ISSUER,
        "jwks_url": idp.url,
    }
    values.update(policy)
    return TokenVerifier(TokenPolicy(**values))  # type: ignore[arg-type]


def test_rs256_and_es256_tokens_are_accepted_and_the_jwks_is_cached(
    idp: IdentityProvider,
) -> None:
    check = verifier(idp, jwks_refresh_cooldown_seconds=0)
    for _ in range(5):
        assert check.user_id(idp.token("rsa-1", USER)) == USER
        assert check.user_id(idp.token("ec-1", USER)) == USER
    assert idp.fetches == 1
    # A key rotated in at the provider is picked up on its first token, without a restart.
    idp.add_key("rsa-2", "RS256")
    assert check.user_id(idp.token("rsa-2", USER)) == USER
    assert idp.fetches == 2


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda p: p.token("rsa-1", USER, audience="another-app"), "audience"),
        (lambda p: p.token("ec-1", USER, issuer="https://evil.test/"), "issuer"),
        (lambda p: p.token("rsa-1", USER, ttl=-120), "expired past the leeway"),
        (lambda p: p.token("rsa-1", USER, ttl=3600, issued_ago=7200), "older than max age"),
        (lambda p: _unpublished(p), "a key the provider never published"),
        (lambda p: _none_alg(), "alg none"),
        (lambda p: _hs256_with_public_key(p), "HS256 keyed with a public key"),
        (lambda p: mint_token("another-secret-" + "z" * 32, USER, audience=AUDIENCE,
                              issuer=ISSUER), "HS256 with another secret"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_tokens_that_must_not_pass(idp: IdentityProvider, make: object, why: str) -> None:
    token = make(idp)  # type: ignore[operator]
    with pytest.raises(InvalidToken):
        verifier(idp, max_age_seconds=3600).user_id(token)


def test_leeway_absorbs_clock_skew_only(idp: IdentityProvider) -> None:
    check = verifier(idp, leeway_seconds=30)
    assert check.user_id(idp.token("rsa-1", USER, ttl=-10)) == USER
    with pytest.raises(InvalidToken):
        verifier(idp, leeway_seconds=0).user_id(idp.token("rsa-1", USER, ttl=-10))


def test_hs256_tokens_of_the_secret_still_pass_with_audience_and_issuer(
    idp: IdentityProvider,
) -> None:
    token = mint_token(JWT_SECRET, USER, audience=AUDIENCE, issuer=ISSUER)
    assert verifier(idp).user_id(token) == USER
    with pytest.raises(InvalidToken):  # the codec endpoint never takes the product's tokens
        verifier(idp).claims(token, allow_secret=False)
    with pytest.raises(InvalidToken):
        verifier(idp).user_id(mint_token(JWT_SECRET, USER))  # no audience, no issuer


def test_an_unreachable_provider_is_not_an_invalid_token() -> None:
    down = TokenVerifier(TokenPolicy(jwks_url=f"http://127.0.0.1:{free_port()}/jwks"))
    with identity_provider() as idp:
        token = idp.token("rsa-1", USER)
    with pytest.raises(TokenCheckUnavailable):
        down.user_id(token)


async def test_the_api_takes_provider_tokens(
    idp: IdentityProvider, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    configured = settings.model_copy(
        update={"auth_jwks_url": idp.url, "auth_jwt_audience": AUDIENCE, "auth_jwt_issuer": ISSUER}
    )
    workspace_id, owner = await create_workspace(sessions)
    app = create_app(configured)
    url = f"/api/v1/stripe/workspaces/{workspace_id}/billing"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:

            async def status(token: str) -> int:
                headers = {"Authorization": f"Bearer {token}"}
                return (await http.get(url, headers=headers)).status_code

            assert await status(idp.token("rsa-1", owner)) == 200
            assert await status(idp.token("ec-1", owner)) == 200
            assert await status(idp.token("rsa-1", owner, audience="other")) == 401
            assert await status(mint_token(JWT_SECRET, owner, audience=AUDIENCE,
                                           issuer=ISSUER, ttl=timedelta(minutes=5))) == 200


def _unpublished(idp: IdentityProvider) -> str:
    idp.add_key("rsa-hidden", "RS256")
    idp.published.remove("rsa-hidden")
    return idp.token("rsa-hidden", USER)


def _none_alg() -> str:
    claims = {"sub": str(USER), "aud": AUDIENCE, "iss": ISSUER, "exp": int(time.time()) + 60}
    return jwt.encode(claims, "", algorithm="none")


def _hs256_with_public_key(idp: IdentityProvider) -> str:
    """The classic confusion: an HMAC "signed" with the provider's public key bytes."""
    import base64
    import hashlib
    import hmac
    import json

    from cryptography.hazmat.primitives import serialization

    public = idp.keys["rsa-1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = {"sub": str(USER), "aud": AUDIENCE, "iss": ISSUER, "exp": int(time.time()) + 60}
    signing_input = f"{part({'alg': 'HS256', 'kid': 'rsa-1'})}.{part(claims)}"
    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
