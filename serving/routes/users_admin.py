"""Account administration: list accounts, change roles and plans (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import func, select

from core.db.models import User
from core.errors import NotFoundError
from core.types import Role
from serving.account_models import PlanRequest, RoleRequest, UserOut, UserPage
from serving.accounts import ensure_channel
from serving.auth import require_admin
from serving.deps import SessionDep
from serving.params import Limit, Offset, UserId
from serving.plans import set_plan
from serving.routes.account import user_out

router = APIRouter(prefix="/admin/users", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get("", response_model=UserPage)
def list_users(session: SessionDep, limit: Limit = 20, offset: Offset = 0) -> UserPage:
    """Accounts with a password (people, not imported dataset users), oldest first."""
    query = select(User).where(User.password_hash.is_not(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(User.id).limit(limit).offset(offset))
    return UserPage(
        items=[user_out(session, u) for u in rows], total=total, limit=limit, offset=offset
    )


def _user(session: SessionDep, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    return user


@router.put("/{user_id}/role", response_model=UserOut)
def set_role(user_id: UserId, body: RoleRequest, session: SessionDep) -> UserOut:
    """Give an account a role; a new creator gets a channel."""
    user = _user(session, user_id)
    user.role = body.role
    if body.role is Role.CREATOR:
        ensure_channel(session, user)
    session.commit()
    return user_out(session, user)


@router.put("/{user_id}/plan", response_model=UserOut)
def change_plan(user_id: UserId, body: PlanRequest, session: SessionDep) -> UserOut:
    """Put an account on a plan (billing happens outside ReelRank)."""
    user = _user(session, user_id)
    set_plan(session, user.id, body.plan)
    session.commit()
    return user_out(session, user)
