"""Plans and what they entitle: premium videos and how many devices may play at once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Subscription
from core.types import SubscriptionStatus


@dataclass(frozen=True)
class Plan:
    """A plan's entitlements."""

    name: str
    premium: bool
    device_limit: int


PLANS: dict[str, Plan] = {
    "free": Plan("free", premium=False, device_limit=1),
    "premium": Plan("premium", premium=True, device_limit=4),
}
FREE = PLANS["free"]

#: Subscription states that entitle (a trial does; a lapsed or cancelled one does not).
ENTITLING = (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING)


def plan_of(session: Session, user_id: int) -> Plan:
    """The user's current plan: their latest entitling subscription's, else free. A
    subscription's own device limit overrides the plan's default."""
    row = session.scalars(
        select(Subscription)
        .where(Subscription.user_id == user_id, Subscription.status.in_(ENTITLING))
        .order_by(Subscription.created_at.desc(), Subscription.id.desc())
        .limit(1)
    ).first()
    if row is None or row.plan not in PLANS:
        return FREE
    base = PLANS[row.plan]
    return Plan(base.name, base.premium, row.device_limit or base.device_limit)


def set_plan(session: Session, user_id: int, name: str) -> Plan:
    """Put the user on plan ``name`` (ending the current subscription); its entitlements."""
    if name not in PLANS:
        raise ValueError(f"unknown plan {name!r} (one of: {', '.join(PLANS)})")
    for row in session.scalars(
        select(Subscription).where(
            Subscription.user_id == user_id, Subscription.status.in_(ENTITLING)
        )
    ):
        row.status = SubscriptionStatus.CANCELED
    plan = PLANS[name]
    if plan is not FREE:
        session.add(Subscription(user_id=user_id, plan=name, device_limit=plan.device_limit))
    session.flush()
    return plan
