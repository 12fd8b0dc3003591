"""Signed JSON Web Tokens (HS256): short-lived access tokens and refresh tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt

from core.errors import ReelRankError
from core.types import Role

ALGORITHM = "HS256"
ISSUER = "reelrank"

TokenKind = Literal["access", "refresh"]


class TokenError(ReelRankError):
    """A token that is malformed, forged, expired or of the wrong kind."""


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says."""

    kind: TokenKind
    user_id: int
    role: Role
    session_id: str
    jti: str
    expires_at: datetime


def new_id() -> str:
    """A random 32-character hex id (sessions, token ids)."""
    return secrets.token_hex(16)


def issue(
    key: bytes,
    kind: TokenKind,
    user_id: int,
    role: Role,
    session_id: str,
    ttl_s: int,
    jti: str | None = None,
) -> str:
    """A signed token of ``kind`` for the user's session, valid for ``ttl_s`` seconds."""
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),
        "role": role.value,
        "sid": session_id,
        "typ": kind,
        "jti": jti or new_id(),
        "iat": now,
        "exp": now + timedelta(seconds=ttl_s),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(key: bytes, token: str, kind: TokenKind) -> TokenClaims:
    """The claims of a genuine, unexpired token of ``kind``; ``TokenError`` otherwise."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "typ", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError(f"the {kind} token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid {kind} token ({exc})") from None
    if claims.get("typ") != kind:
        raise TokenError(f"expected a {kind} token, got a {claims.get('typ')!r} token")
    try:
        return TokenClaims(
            kind=kind,
            user_id=int(claims["sub"]),
            role=Role(claims["role"]),
            session_id=str(claims["sid"]),
            jti=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (KeyError, ValueError) as exc:
        raise TokenError(f"invalid {kind} token claims ({exc})") from None
