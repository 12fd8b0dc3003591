"""The signed-in account: profile, plan and API keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import ApiKey, Channel, User
from core.errors import AuthenticationError, ConflictError, NotFoundError
from serving import accounts
from serving.account_models import (
    ApiKeyOut,
    ApiKeyRequest,
    ChannelRef,
    NewApiKey,
    PlanOut,
    UserOut,
)
from serving.auth import CurrentPrincipal
from serving.deps import SessionDep
from serving.params import MAX_ID
from serving.plans import plan_of

router = APIRouter(prefix="/me", tags=["accounts"])

#: Most live API keys one account may hold.
MAX_API_KEYS = 20


def user_out(session: Session, user: User) -> UserOut:
    """An account with its plan and channels."""
    plan = plan_of(session, user.id)
    channels = session.scalars(
        select(Channel).where(Channel.owner_id == user.id).order_by(Channel.id)
    )
    return UserOut(
        id=user.id,
        username=user.username,
        email=user.email,
        role=user.role,
        created_at=user.created_at,
        plan=PlanOut(name=plan.name, premium=plan.premium, device_limit=plan.device_limit),
        channels=[ChannelRef.model_validate(c) for c in channels],
    )


def _user(session: Session, principal_id: int) -> User:
    user = session.get(User, principal_id)
    if user is None:
        raise AuthenticationError("the account no longer exists")
    return user


@router.get("", response_model=UserOut)
def me(principal: CurrentPrincipal, session: SessionDep) -> UserOut:
    """The caller's account, plan and channels."""
    return user_out(session, _user(session, principal.user_id))


@router.get("/api-keys", response_model=list[ApiKeyOut])
def list_api_keys(principal: CurrentPrincipal, session: SessionDep) -> list[ApiKeyOut]:
    """The caller's API keys (never their secrets)."""
    rows = session.scalars(
        select(ApiKey).where(ApiKey.user_id == principal.user_id).order_by(ApiKey.id)
    )
    return [ApiKeyOut.model_validate(row) for row in rows]


@router.post("/api-keys", response_model=NewApiKey, status_code=201)
def create_api_key(
    body: ApiKeyRequest, principal: CurrentPrincipal, session: SessionDep
) -> NewApiKey:
    """A new API key acting as the caller; its secret is shown in this answer only."""
    live = session.scalars(
        select(ApiKey.id).where(ApiKey.user_id == principal.user_id, ApiKey.revoked_at.is_(None))
    ).all()
    if len(live) >= MAX_API_KEYS:
        raise ConflictError(f"an account holds at most {MAX_API_KEYS} live API keys")
    row, plain = accounts.create_api_key(session, _user(session, principal.user_id), body.name)
    session.commit()
    return NewApiKey(**ApiKeyOut.model_validate(row).model_dump(), key=plain)


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_api_key(
    key_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    principal: CurrentPrincipal,
    session: SessionDep,
) -> Response:
    """Revoke one of the caller's API keys."""
    row = session.get(ApiKey, key_id)
    if row is None or row.user_id != principal.user_id:
        raise NotFoundError(f"you have no API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.commit()
    return Response(status_code=204)
