"""Request and response bodies of channels, follows, comments, ratings and playlists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core.types import Visibility
from serving.params import MAX_ID, storable_text

#: Longest comment body, channel and playlist description.
MAX_COMMENT = 5000
MAX_DESCRIPTION = 5000
#: Most items a playlist holds.
MAX_PLAYLIST_ITEMS = 5000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Body = Annotated[
    str,
    Field(min_length=1, max_length=MAX_COMMENT),
    AfterValidator(_not_blank),
    AfterValidator(storable_text),
]
Name = Annotated[
    str,
    Field(min_length=1, max_length=128),
    AfterValidator(_not_blank),
    AfterValidator(storable_text),
]
Title = Annotated[
    str,
    Field(min_length=1, max_length=256),
    AfterValidator(_not_blank),
    AfterValidator(storable_text),
]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION), AfterValidator(storable_text)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Strict(BaseModel):
    """A request body that refuses unknown fields."""

    model_config = ConfigDict(extra="forbid")


# -- channels ----------------------------------------------------------------------------------


class ChannelOut(BaseModel):
    """A channel with its owner and counts."""

    id: int
    name: str
    description: str
    owner_id: int
    owner_username: str
    video_count: int = Field(description="Listed (public, ready) videos.")
    follower_count: int
    created_at: datetime


class ChannelEdit(Strict):
    """A channel owner's change of name or description."""

    name: Name | None = None
    description: Description | None = None


class FollowState(BaseModel):
    """Whether the caller follows the channel now."""

    channel_id: int
    following: bool
    follower_count: int


class FollowedChannel(BaseModel):
    """A followed channel."""

    channel_id: int
    name: str
    followed_at: datetime


class FollowingPage(BaseModel):
    """The channels the caller follows, most recently followed first."""

    items: list[FollowedChannel]
    total: int
    limit: int
    offset: int


# -- comments ----------------------------------------------------------------------------------


class CommentCreate(Strict):
    """A new comment, or a reply to ``parent_id`` (a comment on the same video)."""

    body: Body
    parent_id: Id | None = None


class CommentEdit(Strict):
    """An author's new text of their comment."""

    body: Body


class CommentOut(BaseModel):
    """A comment; deleted and moderated ones keep their place with the body hidden."""

    id: int
    video_id: int
    parent_id: int | None
    user_id: int | None = Field(description="Null once the comment is deleted or removed.")
    username: str | None
    body: str
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    moderated: bool
    reply_count: int = 0
    replies: list[CommentOut] = Field(
        default_factory=list, description="The first replies (oldest first) of a top comment."
    )


class CommentPage(BaseModel):
    """A page of top comments (newest first), or of one thread's replies (oldest first)."""

    items: list[CommentOut]
    next_cursor: str | None


# -- ratings -----------------------------------------------------------------------------------


def _half_steps(value: float) -> float:
    if (value * 2) != int(value * 2):
        raise ValueError("must be a multiple of 0.5")
    return value


class RatingIn(Strict):
    """A rating from 0.5 to 5 in steps of 0.5."""

    value: Annotated[float, Field(ge=0.5, le=5.0), AfterValidator(_half_steps)]


class RatingOut(BaseModel):
    """The caller's rating (null when none) and the video's average over all ratings."""

    video_id: int
    value: float | None
    average: float | None
    count: int


# -- playlists ---------------------------------------------------------------------------------


class PlaylistCreate(Strict):
    """A new playlist (private unless said otherwise)."""

    title: Title
    description: Description = ""
    visibility: Visibility = Visibility.PRIVATE


class PlaylistEdit(Strict):
    """A change of title, description or visibility."""

    title: Title | None = None
    description: Description | None = None
    visibility: Visibility | None = None


class PlaylistItemAdd(Strict):
    """A video to add, at ``position`` (0-based; the end when absent or beyond it)."""

    video_id: Id
    position: Annotated[int, Field(ge=0, le=MAX_PLAYLIST_ITEMS)] | None = None


class PlaylistOrder(Strict):
    """The playlist's videos in their new order: every current item exactly once."""

    video_ids: list[Id] = Field(max_length=MAX_PLAYLIST_ITEMS)


class PlaylistItemOut(BaseModel):
    """One playlist entry; a video that is no longer viewable shows as unavailable."""

    position: int
    video_id: int
    available: bool
    title: str | None
    duration_s: float | None


class PlaylistSummary(BaseModel):
    """A playlist without its items."""

    id: int
    user_id: int
    title: str
    description: str
    visibility: Visibility
    item_count: int
    shared: bool = Field(description="Whether a share link is live (the owner sees it).")
    created_at: datetime
    updated_at: datetime | None


class PlaylistOut(PlaylistSummary):
    """A playlist with its items in order."""

    items: list[PlaylistItemOut]


class PlaylistList(BaseModel):
    """The caller's playlists, newest first."""

    items: list[PlaylistSummary]
    total: int
    limit: int
    offset: int


class ShareLink(BaseModel):
    """A playlist's share link: anyone holding it may open the playlist."""

    playlist_id: int
    share_token: str
    path: str
