"""Channels: a channel's page and videos, its owner's edits, following."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from serving import channels
from serving.auth import CurrentPrincipal
from serving.browse import BrowseFilters
from serving.cursors import Cursor
from serving.deps import SessionDep
from serving.params import MAX_ID, Limit, Offset
from serving.routes.videos import page_of
from serving.schemas import VideoPage
from serving.social_models import ChannelEdit, ChannelOut, FollowingPage, FollowState

router = APIRouter(tags=["channels"])

ChannelId = Annotated[int, Path(ge=1, le=MAX_ID, description="A channel id.")]


@router.get("/channels/{channel_id}", response_model=ChannelOut)
def get_channel(channel_id: ChannelId, session: SessionDep) -> ChannelOut:
    """A channel: name, description, owner, listed videos and followers."""
    return channels.channel_out(session, channels.get_channel(session, channel_id))


@router.patch("/channels/{channel_id}", response_model=ChannelOut)
def edit_channel(
    channel_id: ChannelId, edit: ChannelEdit, session: SessionDep, principal: CurrentPrincipal
) -> ChannelOut:
    """Rename or redescribe a channel (its owner, or an admin)."""
    channel = channels.edit_channel(session, principal, channel_id, edit)
    return channels.channel_out(session, channel)


@router.get("/channels/{channel_id}/videos", response_model=VideoPage)
def channel_videos(
    channel_id: ChannelId, session: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> VideoPage:
    """The channel's listed videos, newest first, in keyset pages."""
    channels.get_channel(session, channel_id)
    return page_of(session, BrowseFilters(channel_id=channel_id), "newest", limit, 0, cursor)


@router.put("/channels/{channel_id}/follow", response_model=FollowState)
def follow(channel_id: ChannelId, session: SessionDep, principal: CurrentPrincipal) -> FollowState:
    """Follow a channel (again is a no-op)."""
    return channels.set_following(session, principal.user_id, channel_id, True)


@router.delete("/channels/{channel_id}/follow", response_model=FollowState)
def unfollow(
    channel_id: ChannelId, session: SessionDep, principal: CurrentPrincipal
) -> FollowState:
    """Stop following a channel (again is a no-op)."""
    return channels.set_following(session, principal.user_id, channel_id, False)


@router.get("/me/following", response_model=FollowingPage)
def my_following(
    session: SessionDep, principal: CurrentPrincipal, limit: Limit = 20, offset: Offset = 0
) -> FollowingPage:
    """The channels the caller follows, most recently followed first."""
    return channels.following(session, principal.user_id, limit, offset)
