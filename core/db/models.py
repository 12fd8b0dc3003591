"""SQLAlchemy models of the catalogue, accounts and the append-only interaction event log."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from core.types import (
    VIDEO_TRANSITIONS,
    EventType,
    ExperimentStatus,
    InvalidTransitionError,
    JobState,
    Role,
    SubscriptionStatus,
    VideoStatus,
    Visibility,
)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _enum(cls: type) -> SAEnum:
    """A portable enum column stored as its string values."""
    return SAEnum(
        cls,
        values_callable=lambda e: [m.value for m in e],
        native_enum=False,
        validate_strings=True,
        length=16,
    )


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on every engine: SQLite keeps no offset, so values read back
    without one are UTC (which is what every writer stores)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base of every catalogue table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
    }


class User(Base):
    """An account; imported dataset users carry their ``source`` and ``external_id``."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_users_source_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.VIEWER)
    source: Mapped[str | None] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    channels: Mapped[list[Channel]] = relationship(back_populates="owner")


class Channel(Base):
    """A creator's channel."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[User] = relationship(back_populates="channels")
    videos: Mapped[list[Video]] = relationship(back_populates="channel")


class Video(Base):
    """A catalogue entry; its ``status`` follows ``core.types.VIDEO_TRANSITIONS``."""

    __tablename__ = "videos"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_videos_source_external"),
        Index("ix_videos_visibility_status", "visibility", "status"),
        Index("ix_videos_published", "published_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(512), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    genres: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(8))
    duration_s: Mapped[float | None] = mapped_column(Float)
    release_year: Mapped[int | None] = mapped_column(Integer)
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility), default=Visibility.PUBLIC)
    status: Mapped[VideoStatus] = mapped_column(_enum(VideoStatus), default=VideoStatus.UPLOADED)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column()
    premium: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime | None] = mapped_column()

    channel: Mapped[Channel | None] = relationship(back_populates="videos")
    renditions: Mapped[list[Rendition]] = relationship(
        back_populates="video",
        cascade="all, delete-orphan",
        order_by="Rendition.height",
    )

    def transition(self, new: VideoStatus, reason: str | None = None) -> None:
        """Move to ``new`` status; a failure needs a reason; publishing stamps ``published_at``."""
        new = VideoStatus(new)
        if new not in VIDEO_TRANSITIONS[self.status]:
            raise InvalidTransitionError(f"video {self.id}: cannot go from {self.status} to {new}")
        if new is VideoStatus.FAILED and not reason:
            raise InvalidTransitionError(f"video {self.id}: a failure needs a reason")
        self.status = new
        self.failure_reason = reason if new is VideoStatus.FAILED else None
        if new is VideoStatus.READY and self.published_at is None:
            self.published_at = utcnow()


class Rendition(Base):
    """One rung of a video's adaptive-bitrate ladder."""

    __tablename__ = "renditions"
    __table_args__ = (UniqueConstraint("video_id", "name", name="uq_renditions_video_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bitrate: Mapped[int] = mapped_column(Integer)
    codecs: Mapped[str] = mapped_column(String(64))
    playlist_path: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    video: Mapped[Video] = relationship(back_populates="renditions")


class ProcessingJob(Base):
    """A media processing job and its progress."""

    __tablename__ = "processing_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[JobState] = mapped_column(_enum(JobState), default=JobState.PENDING)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class Comment(Base):
    """A comment on a video; replies point at their parent."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()
    moderated: Mapped[bool] = mapped_column(default=False)

    replies: Mapped[list[Comment]] = relationship(back_populates="parent")
    parent: Mapped[Comment | None] = relationship(back_populates="replies", remote_side=[id])


class Rating(Base):
    """A user's current explicit rating of a video (the event log keeps the history)."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("user_id", "video_id", name="uq_ratings_user_video"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column()


class Playlist(Base):
    """A user's ordered list of videos."""

    __tablename__ = "playlists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility), default=Visibility.PRIVATE)
    share_token: Mapped[str | None] = mapped_column(String(43), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column()

    items: Mapped[list[PlaylistItem]] = relationship(
        back_populates="playlist",
        cascade="all, delete-orphan",
        order_by="PlaylistItem.position",
    )


class PlaylistItem(Base):
    """One position in a playlist."""

    __tablename__ = "playlist_items"
    __table_args__ = (
        UniqueConstraint("playlist_id", "position", name="uq_playlist_items_position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlists.id", ondelete="CASCADE"))
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)

    playlist: Mapped[Playlist] = relationship(back_populates="items")


class Subscription(Base):
    """A user's paid plan."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    plan: Mapped[str] = mapped_column(String(32))
    status: Mapped[SubscriptionStatus] = mapped_column(
        _enum(SubscriptionStatus), default=SubscriptionStatus.ACTIVE
    )
    device_limit: Mapped[int] = mapped_column(Integer, default=1)
    renews_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InteractionEvent(Base):
    """One row of the append-only interaction log; ``event_id`` makes writes idempotent."""

    __tablename__ = "interaction_events"
    __table_args__ = (
        # covers a viewer's history read (newest first, by type) without touching the table
        Index("ix_events_user_history", "user_id", "event_timestamp", "event_type", "video_id"),
        Index("ix_events_video_time", "video_id", "event_timestamp"),
        # windows over all videos (analytics' top list and daily actives, trending counts)
        Index("ix_events_time_type", "event_timestamp", "event_type", "video_id", "user_id"),
    )

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    video_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[EventType] = mapped_column(_enum(EventType))
    value: Mapped[float | None] = mapped_column(Float)
    watch_seconds: Mapped[float | None] = mapped_column(Float)
    event_timestamp: Mapped[datetime] = mapped_column()
    client_id: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64))
    recommendation_id: Mapped[str | None] = mapped_column(String(32), index=True)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[datetime | None] = mapped_column()


class Follow(Base):
    """A viewer following a channel."""

    __tablename__ = "follows"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A server-to-server credential; only a hash of its secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class AuthSession(Base):
    """A signed-in session: the refresh token's family; logout or reuse revokes it."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    refresh_jti: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class LoginFailure(Base):
    """A failed sign-in, kept for a while to throttle guessing (by account and by address)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "failed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128))
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlaybackSession(Base):
    """One device playing one video; live while its lease is renewed."""

    __tablename__ = "playback_sessions"
    __table_args__ = (Index("ix_playback_sessions_user_seen", "user_id", "last_seen_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()


class Upload(Base):
    """A resumable (tus) upload: bytes received so far, then the video it became."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    filename: Mapped[str] = mapped_column(String(255), default="upload")
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="receiving")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class Experiment(Base):
    """An A/B experiment: users are bucketed into its variants by a hash of id and salt."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    salt: Mapped[str] = mapped_column(String(64))
    status: Mapped[ExperimentStatus] = mapped_column(
        _enum(ExperimentStatus), default=ExperimentStatus.DRAFT
    )
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    stopped_at: Mapped[datetime | None] = mapped_column()

    variants: Mapped[list[ExperimentVariant]] = relationship(
        back_populates="experiment",
        cascade="all, delete-orphan",
        order_by="ExperimentVariant.position",
    )


class ExperimentVariant(Base):
    """One arm of an experiment: a share of traffic served by a model alias or version
    (``model``) and optional pipeline settings."""

    __tablename__ = "experiment_variants"
    __table_args__ = (
        UniqueConstraint("experiment_id", "name", name="uq_experiment_variants_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    traffic: Mapped[float] = mapped_column(Float)
    is_control: Mapped[bool] = mapped_column(default=False)
    model: Mapped[str] = mapped_column(String(64), default="champion")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    experiment: Mapped[Experiment] = relationship(back_populates="variants")


class Exposure(Base):
    """One served list: who got which items in which positions, under which variant."""

    __tablename__ = "exposures"
    __table_args__ = (Index("ix_exposures_experiment_variant", "experiment", "variant"),)

    recommendation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    experiment: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(64))
    surface: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    items: Mapped[list[int]] = mapped_column(JSON)
    fallback: Mapped[bool] = mapped_column(default=False)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    served_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppendOnlyError(RuntimeError):
    """An attempt to change or delete a logged interaction event."""


@event.listens_for(Session, "before_flush")
def _refuse_event_changes(session: Session, _context: object, _instances: object) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, InteractionEvent) and (
            obj in session.deleted or session.is_modified(obj)
        ):
            raise AppendOnlyError("interaction_events is append-only")
