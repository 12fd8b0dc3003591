"""Channels and follows: a channel's page, its owner's edits, following and unfollowing."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db.models import Channel, Follow, User, Video, utcnow
from core.errors import NotFoundError, PermissionDeniedError
from core.types import VideoStatus, Visibility
from serving.auth import Principal
from serving.social_models import (
    ChannelEdit,
    ChannelOut,
    FollowedChannel,
    FollowingPage,
    FollowState,
)


def get_channel(session: Session, channel_id: int) -> Channel:
    """The channel, else NotFoundError."""
    channel = session.get(Channel, channel_id)
    if channel is None:
        raise NotFoundError(f"channel {channel_id} not found")
    return channel


def follower_count(session: Session, channel_id: int) -> int:
    """How many viewers follow the channel."""
    return session.scalar(select(func.count()).where(Follow.channel_id == channel_id)) or 0


def channel_out(session: Session, channel: Channel) -> ChannelOut:
    """The channel with its owner's name, listed videos and followers."""
    videos = session.scalar(
        select(func.count()).where(
            Video.channel_id == channel.id,
            Video.visibility == Visibility.PUBLIC,
            Video.status == VideoStatus.READY,
        )
    )
    owner = session.scalar(select(User.username).where(User.id == channel.owner_id))
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        description=channel.description,
        owner_id=channel.owner_id,
        owner_username=owner or "",
        video_count=videos or 0,
        follower_count=follower_count(session, channel.id),
        created_at=channel.created_at,
    )


def edit_channel(
    session: Session, principal: Principal, channel_id: int, edit: ChannelEdit
) -> Channel:
    """Change the name or description; only the owner (or an admin) may."""
    channel = get_channel(session, channel_id)
    if channel.owner_id != principal.user_id and not principal.is_admin:
        raise PermissionDeniedError("only the channel's owner may edit it")
    if edit.name is not None and edit.name.strip() != channel.name:
        channel.name = edit.name.strip()
        # the creator's name is part of each video's search text: mark them changed
        session.execute(
            update(Video).where(Video.channel_id == channel.id).values(updated_at=utcnow())
        )
    if edit.description is not None:
        channel.description = edit.description
    session.commit()
    return channel


def set_following(session: Session, user_id: int, channel_id: int, follow: bool) -> FollowState:
    """Follow or unfollow (both idempotent; a concurrent duplicate follow is a no-op)."""
    get_channel(session, channel_id)
    if follow:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(
            dialect.insert(Follow)
            .values(user_id=user_id, channel_id=channel_id)
            .on_conflict_do_nothing(index_elements=["user_id", "channel_id"])
        )
    else:
        session.execute(
            delete(Follow).where(Follow.user_id == user_id, Follow.channel_id == channel_id)
        )
    session.commit()
    return FollowState(
        channel_id=channel_id,
        following=follow,
        follower_count=follower_count(session, channel_id),
    )


def following(session: Session, user_id: int, limit: int, offset: int) -> FollowingPage:
    """The channels ``user_id`` follows, most recently followed first."""
    total = session.scalar(select(func.count()).where(Follow.user_id == user_id)) or 0
    rows = session.execute(
        select(Follow.channel_id, Channel.name, Follow.created_at)
        .join(Channel, Channel.id == Follow.channel_id)
        .where(Follow.user_id == user_id)
        .order_by(Follow.created_at.desc(), Follow.channel_id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    items = [FollowedChannel(channel_id=c, name=n, followed_at=at) for c, n, at in rows]
    return FollowingPage(items=items, total=total, limit=limit, offset=offset)
