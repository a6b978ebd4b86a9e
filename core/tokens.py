"""Bearer tokens: HS256 JWTs whose `sub` is the user id (minted locally by `billing token`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed, expired or names no user."""


def mint_token(secret: str, user_id: uuid.UUID, *, ttl: timedelta = timedelta(days=30)) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def user_id_from_token(secret: str, token: str) -> uuid.UUID:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        return uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken(type(exc).__name__) from None
