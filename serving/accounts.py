"""Accounts: registration, sign-in with throttling, sessions with rotating refresh tokens, and
API keys. Functions take the request's catalogue session; the caller commits."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import ApiKey, AuthSession, Channel, LoginFailure, User
from core.errors import (
    AuthenticationError,
    ConflictError,
    ReelRankError,
    TooManyRequestsError,
)
from core.security import hash_password, verify_password
from core.settings import Settings
from core.types import Role
from serving import tokens

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,24}$")
MIN_PASSWORD, MAX_PASSWORD = 8, 128
#: API keys look like ``rr_<prefix>_<secret>``; the prefix finds the row, the secret proves it.
API_KEY = re.compile(r"^rr_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
#: A key's last use is written at most this often (reads should not each cost a write).
LAST_USED_EVERY = timedelta(minutes=1)
#: Hash checked when the account does not exist, so both answers take as long.
_DUMMY_HASH = hash_password("not a real password")


@dataclass(frozen=True)
class TokenPair:
    """What a sign-in or refresh returns."""

    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_password(password: str) -> None:
    """Refuse passwords outside the length bounds."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ReelRankError(f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long")


def register(session: Session, username: str, password: str, email: str | None, role: Role) -> User:
    """A new viewer or creator account, as people sign up (admins are made by admins)."""
    if role is Role.ADMIN:
        raise ReelRankError("admins are made by an admin, not by registration")
    return create_account(session, username, password, email, role)


def create_account(
    session: Session, username: str, password: str, email: str | None, role: Role
) -> User:
    """A new account of any role; creators and admins get a channel named after them."""
    if not USERNAME.match(username):
        raise ReelRankError("username must be 3 to 32 letters, digits, dots, dashes or underscores")
    if email is not None and not EMAIL.match(email):
        raise ReelRankError("email is not a valid address")
    check_password(password)
    clash = func.lower(User.username) == username.lower()
    if email:
        clash = or_(clash, User.email == email)
    taken = session.scalar(select(func.count()).select_from(User).where(clash))
    if taken:
        raise ConflictError("that username or email is already registered")
    user = User(username=username, email=email, password_hash=hash_password(password), role=role)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise ConflictError("that username or email is already registered") from None
    if role in (Role.CREATOR, Role.ADMIN):
        ensure_channel(session, user)
    return user


def ensure_channel(session: Session, user: User) -> Channel:
    """The user's first channel, created (named after them) if they have none."""
    channel = session.scalars(
        select(Channel).where(Channel.owner_id == user.id).order_by(Channel.id).limit(1)
    ).first()
    if channel is None:
        channel = Channel(owner_id=user.id, name=user.username)
        session.add(channel)
        session.flush()
    return channel


def _throttle_keys(username: str, address: str) -> list[str]:
    return [f"user:{username.lower()}"[:128], f"addr:{address}"[:128]]


def _check_throttle(session: Session, keys: list[str], settings: Settings) -> None:
    since = _now() - timedelta(seconds=settings.login_window_s)
    for key in keys:
        failures = session.execute(
            select(func.count(), func.min(LoginFailure.failed_at)).where(
                LoginFailure.key == key, LoginFailure.failed_at >= since
            )
        ).one()
        if failures[0] >= settings.login_max_failures:
            oldest = _aware(failures[1])
            wait = oldest + timedelta(seconds=settings.login_window_s) - _now()
            raise TooManyRequestsError(
                "too many failed sign-ins; try again later",
                retry_after_s=max(1, int(wait.total_seconds()) + 1),
            )


def authenticate(
    session: Session, username: str, password: str, address: str, settings: Settings
) -> User:
    """The account whose password matches; failures are recorded and, past the limit per
    account or per address within the window, refused with ``TooManyRequestsError``.
    Failures are committed at once (the caller's rollback must not erase them)."""
    keys = _throttle_keys(username, address)
    _check_throttle(session, keys, settings)
    user = session.scalars(
        select(User).where(func.lower(User.username) == username.lower())
    ).first()
    if user is None or user.password_hash is None:
        verify_password(_DUMMY_HASH, password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if not ok:
        session.add_all(LoginFailure(key=key) for key in keys)
        session.commit()
        raise AuthenticationError("wrong username or password")
    assert user is not None
    session.execute(delete(LoginFailure).where(LoginFailure.key == keys[0]))
    purge_login_failures(session, settings)
    return user


def open_session(session: Session, user: User, key: bytes, settings: Settings) -> TokenPair:
    """A new signed-in session for ``user`` and its first token pair."""
    row = AuthSession(
        id=tokens.new_id(),
        user_id=user.id,
        refresh_jti=tokens.new_id(),
        expires_at=_now() + timedelta(seconds=settings.refresh_token_ttl_s),
    )
    session.add(row)
    session.flush()
    return _pair(row, user, key, settings)


def _pair(row: AuthSession, user: User, key: bytes, settings: Settings) -> TokenPair:
    access = tokens.issue(key, "access", user.id, user.role, row.id, settings.access_token_ttl_s)
    remaining = int((_aware(row.expires_at) - _now()).total_seconds())
    refresh = tokens.issue(
        key, "refresh", user.id, user.role, row.id, max(1, remaining), jti=row.refresh_jti
    )
    return TokenPair(access, refresh, settings.access_token_ttl_s, row.id)


def refresh(session: Session, refresh_token: str, key: bytes, settings: Settings) -> TokenPair:
    """A new token pair for a live session, rotating its refresh token. Presenting a refresh
    token that was already used revokes the whole session (it was likely stolen)."""
    try:
        claims = tokens.verify(key, refresh_token, "refresh")
    except tokens.TokenError as exc:
        raise AuthenticationError(str(exc)) from None
    row = session.get(AuthSession, claims.session_id)
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= _now():
        raise AuthenticationError("the session has ended; sign in again")
    if not hmac.compare_digest(row.refresh_jti, claims.jti):
        row.revoked_at = _now()
        session.commit()
        raise AuthenticationError(
            "this refresh token was already used; the session is revoked, sign in again"
        )
    user = session.get(User, row.user_id)
    if user is None:
        raise AuthenticationError("the account no longer exists")
    row.refresh_jti = tokens.new_id()
    session.flush()
    return _pair(row, user, key, settings)


def revoke_session(session: Session, session_id: str) -> None:
    """End a signed-in session: its access and refresh tokens stop working."""
    row = session.get(AuthSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = _now()


def session_is_live(session: Session, session_id: str) -> bool:
    """Whether the signed-in session exists, is not revoked and has not expired."""
    row = session.get(AuthSession, session_id)
    return row is not None and row.revoked_at is None and _aware(row.expires_at) > _now()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(session: Session, user: User, name: str) -> tuple[ApiKey, str]:
    """A new API key of ``user`` and its plain text, which is shown once and never stored."""
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    row = ApiKey(user_id=user.id, name=name, prefix=prefix, secret_hash=_digest(secret))
    session.add(row)
    session.flush()
    return row, f"rr_{prefix}_{secret}"


def api_key_owner(session: Session, plain: str) -> User:
    """The account a live API key belongs to; ``AuthenticationError`` otherwise."""
    match = API_KEY.match(plain)
    if match is None:
        raise AuthenticationError("malformed API key")
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == match.group(1))).first()
    if (
        row is None
        or row.revoked_at is not None
        or not hmac.compare_digest(row.secret_hash, _digest(match.group(2)))
    ):
        raise AuthenticationError("unknown or revoked API key")
    user = session.get(User, row.user_id)
    if user is None:
        raise AuthenticationError("unknown or revoked API key")
    now = _now()
    if row.last_used_at is None or now - _aware(row.last_used_at) > LAST_USED_EVERY:
        row.last_used_at = now
        session.commit()
    return user


def purge_login_failures(session: Session, settings: Settings) -> int:
    """Drop failures older than the throttling window; how many went."""
    since = _now() - timedelta(seconds=settings.login_window_s)
    result = session.execute(delete(LoginFailure).where(LoginFailure.failed_at < since))
    return int(getattr(result, "rowcount", 0) or 0)
