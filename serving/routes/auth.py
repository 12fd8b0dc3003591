"""Sign-up, sign-in (OAuth2 password flow), token refresh and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from core.types import Role
from serving import accounts
from serving.account_models import RefreshRequest, RegisterRequest, TokenResponse, UserOut
from serving.auth import CurrentPrincipal, request_key
from serving.deps import SessionDep, SettingsDep
from serving.routes.account import user_out

router = APIRouter(prefix="/auth", tags=["accounts"])


def _tokens(pair: accounts.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


@router.post("/register", response_model=UserOut, status_code=201)
def register(body: RegisterRequest, session: SessionDep) -> UserOut:
    """Open an account (viewer or creator)."""
    user = accounts.register(session, body.username, body.password, body.email, Role(body.role))
    session.commit()
    return user_out(session, user)


@router.post("/token", response_model=TokenResponse)
def sign_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")],
    password: Annotated[str, Form(min_length=1, max_length=128)],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
) -> TokenResponse:
    """Exchange a username and password for an access and a refresh token. Repeated failures
    for one account or from one address are refused with 429 for a while."""
    address = request.client.host if request.client else "unknown"
    user = accounts.authenticate(session, username, password, address, settings)
    pair = accounts.open_session(session, user, request_key(request), settings)
    session.commit()
    return _tokens(pair)


@router.post("/refresh", response_model=TokenResponse)
def refresh(
    body: RefreshRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> TokenResponse:
    """A new token pair for a refresh token; each refresh token works once."""
    pair = accounts.refresh(session, body.refresh_token, request_key(request), settings)
    session.commit()
    return _tokens(pair)


@router.post("/logout", status_code=204)
def sign_out(principal: CurrentPrincipal, session: SessionDep) -> Response:
    """End the caller's session: its access and refresh tokens stop working at once."""
    if principal.session_id is not None:
        accounts.revoke_session(session, principal.session_id)
        session.commit()
    return Response(status_code=204)
