"""Who is calling: the principal behind a bearer token or an API key, and the checks routes
declare (signed in, a role, acting for a user)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Literal

from anyio import to_thread
from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer

from core.db.models import User
from core.db.session import session_factory
from core.errors import AuthenticationError, PermissionDeniedError
from core.settings import Settings
from core.types import Role
from serving import accounts, tokens
from serving.params import UserId
from serving.signing_key import signing_key

#: The OpenAPI security scheme (the docs' "Authorize" button signs in through /auth/token).
bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)

MAX_API_KEY = 128


@dataclass(frozen=True)
class Principal:
    """The account a request acts as, and how it proved it."""

    user_id: int
    role: Role
    via: Literal["token", "api_key"]
    session_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def request_key(request: Request) -> bytes:
    """The app's signing key (read once per app)."""
    key: bytes | None = getattr(request.app.state, "signing_key", None)
    if key is None:
        key = signing_key(request.app.state.settings)
        request.app.state.signing_key = key
    return key


async def get_principal(
    request: Request,
    token: Annotated[str | None, Depends(bearer)],
    x_api_key: Annotated[
        str | None, Header(max_length=MAX_API_KEY, description="A server-to-server API key.")
    ] = None,
) -> Principal | None:
    """The caller, or None when no credentials came; wrong credentials are refused (401),
    never treated as anonymous. Only calls with credentials touch the database."""
    if token is None and x_api_key is None:
        return None
    return await to_thread.run_sync(_resolve, request, token, x_api_key)


def _resolve(request: Request, token: str | None, x_api_key: str | None) -> Principal:
    settings: Settings = request.app.state.settings
    with session_factory(settings.resolved_database_url)() as session:
        if token is not None:
            try:
                claims = tokens.verify(request_key(request), token, "access")
            except tokens.TokenError as exc:
                raise AuthenticationError(str(exc)) from None
            if not accounts.session_is_live(session, claims.session_id):
                raise AuthenticationError("the session has ended; sign in again")
            user = session.get(User, claims.user_id)
            if user is None:
                raise AuthenticationError("the account no longer exists")
            return Principal(user.id, user.role, "token", claims.session_id)
        assert x_api_key is not None
        user = accounts.api_key_owner(session, x_api_key)
        return Principal(user.id, user.role, "api_key")


def require_principal(
    principal: Annotated[Principal | None, Depends(get_principal)],
) -> Principal:
    """The signed-in caller; 401 without credentials."""
    if principal is None:
        raise AuthenticationError("sign in first (a bearer token or an X-API-Key header)")
    return principal


def require_creator(principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    """A creator or an admin."""
    if principal.role not in (Role.CREATOR, Role.ADMIN):
        raise PermissionDeniedError("only creators may do this; ask an admin for the role")
    return principal


def require_admin_user(principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    """An admin."""
    if not principal.is_admin:
        raise PermissionDeniedError("only admins may do this")
    return principal


def require_admin(
    request: Request,
    principal: Annotated[Principal | None, Depends(get_principal)],
    x_admin_token: Annotated[
        str | None, Header(max_length=256, description="The operator's admin token.")
    ] = None,
) -> None:
    """An admin: an admin's token or key, or ``X-Admin-Token`` equal to the configured
    operator token (for scripts before any admin account exists)."""
    if principal is not None:
        if not principal.is_admin:
            raise PermissionDeniedError("only admins may do this")
        return
    expected = request.app.state.settings.admin_token
    if x_admin_token is None:
        raise AuthenticationError("sign in as an admin, or send the X-Admin-Token header")
    if not expected:
        raise PermissionDeniedError(
            "the X-Admin-Token is disabled: set REELRANK_ADMIN_TOKEN, or sign in as an admin"
        )
    if not hmac.compare_digest(x_admin_token.encode(), expected.encode()):
        raise PermissionDeniedError("wrong X-Admin-Token")


def check_acts_for(principal: Principal | None, user_id: int, settings: Settings) -> None:
    """Refuse unless the caller may act for ``user_id``: the user themselves, an admin (or an
    admin's service key), or anyone when ``anonymous_user_routes`` is on and no credentials
    were given."""
    if principal is None:
        if settings.anonymous_user_routes:
            return
        raise AuthenticationError("sign in first (a bearer token or an X-API-Key header)")
    if principal.user_id != user_id and not principal.is_admin:
        raise PermissionDeniedError(f"you may not act for user {user_id}")


async def acting_for_path_user(
    request: Request,
    user_id: UserId,
    principal: Annotated[Principal | None, Depends(get_principal)],
) -> Principal | None:
    """The caller of a route about the path's ``user_id``, checked with ``check_acts_for``."""
    check_acts_for(principal, user_id, request.app.state.settings)
    return principal


ActingForPathUser = Annotated[Principal | None, Depends(acting_for_path_user)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_principal)]
CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
CreatorPrincipal = Annotated[Principal, Depends(require_creator)]
AdminPrincipal = Annotated[Principal, Depends(require_admin_user)]
