"""The catalogue data layer on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError

from core.db.migrate import current
from core.db.models import (
    AppendOnlyError,
    Channel,
    Comment,
    InteractionEvent,
    Playlist,
    PlaylistItem,
    Rating,
    Rendition,
    Subscription,
    User,
    Video,
)
from core.db.session import session_scope
from core.security import hash_password, verify_password
from core.types import EventType, InvalidTransitionError, Role, VideoStatus, Visibility


def _creator_with_video(url: str) -> tuple[int, int]:
    with session_scope(url) as session:
        user = User(username="ada", email="ada@example.com", role=Role.CREATOR)
        user.password_hash = hash_password("s3cret-pass")
        channel = Channel(owner=user, name="Ada's lab")
        video = Video(
            channel=channel,
            title="Analytical engines",
            tags=["history", "computing"],
            genres=["Documentary"],
            language="en",
            duration_s=612.5,
            release_year=1843,
        )
        session.add_all([user, channel, video])
        session.flush()
        return user.id, video.id


def test_migrated_to_head(database_url: str) -> None:
    assert current(database_url) == "0003"


def test_user_password_is_argon2_hashed(database_url: str) -> None:
    user_id, _ = _creator_with_video(database_url)
    with session_scope(database_url) as session:
        user = session.get(User, user_id)
        assert user is not None
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")
        assert "s3cret-pass" not in user.password_hash
        assert verify_password(user.password_hash, "s3cret-pass")
        assert not verify_password(user.password_hash, "wrong")
        assert user.role is Role.CREATOR


def test_video_round_trip_keeps_lists_and_defaults(database_url: str) -> None:
    _, video_id = _creator_with_video(database_url)
    with session_scope(database_url) as session:
        video = session.get(Video, video_id)
        assert video is not None
        assert video.tags == ["history", "computing"]
        assert video.genres == ["Documentary"]
        assert video.visibility is Visibility.PUBLIC
        assert video.status is VideoStatus.UPLOADED
        assert video.channel is not None and video.channel.owner.username == "ada"


def test_video_status_state_machine(database_url: str) -> None:
    _, video_id = _creator_with_video(database_url)
    with session_scope(database_url) as session:
        video = session.get(Video, video_id)
        assert video is not None
        with pytest.raises(InvalidTransitionError, match="cannot go from uploaded to ready"):
            video.transition(VideoStatus.READY)
        video.transition(VideoStatus.PROCESSING)
        with pytest.raises(InvalidTransitionError, match="a failure needs a reason"):
            video.transition(VideoStatus.FAILED)
        video.transition(VideoStatus.FAILED, reason="no video stream")
    with session_scope(database_url) as session:
        video = session.get(Video, video_id)
        assert video is not None
        assert video.status is VideoStatus.FAILED
        assert video.failure_reason == "no video stream"
        video.transition(VideoStatus.PROCESSING)
        video.transition(VideoStatus.READY)
        assert video.failure_reason is None
        assert video.published_at is not None
        with pytest.raises(InvalidTransitionError):
            video.transition(VideoStatus.PROCESSING)


def test_unknown_enum_value_is_refused(database_url: str) -> None:
    with pytest.raises(StatementError), session_scope(database_url) as session:
        session.add(User(username="bad", role="superuser"))  # type: ignore[arg-type]


def test_renditions_comments_playlists_subscriptions(database_url: str) -> None:
    user_id, video_id = _creator_with_video(database_url)
    with session_scope(database_url) as session:
        session.add(
            Rendition(
                video_id=video_id,
                name="360p",
                width=640,
                height=360,
                bitrate=800_000,
                codecs="avc1.64001e,mp4a.40.2",
                playlist_path="media/hls/1/360p/index.m3u8",
            )
        )
        root = Comment(video_id=video_id, user_id=user_id, body="First!")
        reply = Comment(video_id=video_id, user_id=user_id, body="Reply", parent=root)
        playlist = Playlist(user_id=user_id, title="Later")
        playlist.items = [PlaylistItem(video_id=video_id, position=p) for p in (2, 0, 1)]
        session.add_all(
            [
                root,
                reply,
                playlist,
                Rating(user_id=user_id, video_id=video_id, value=4.5),
                Subscription(user_id=user_id, plan="premium", renews_on=date(2027, 1, 1)),
            ]
        )
    with session_scope(database_url) as session:
        video = session.get(Video, video_id)
        assert video is not None and [r.name for r in video.renditions] == ["360p"]
        root = session.scalars(select(Comment).where(Comment.parent_id.is_(None))).one()
        assert [c.body for c in root.replies] == ["Reply"]
        playlist = session.scalars(select(Playlist)).one()
        assert [item.position for item in playlist.items] == [0, 1, 2]
        subscription = session.scalars(select(Subscription)).one()
        assert subscription.device_limit == 1 and subscription.status == "active"


def test_one_rating_per_user_and_video(database_url: str) -> None:
    user_id, video_id = _creator_with_video(database_url)
    with pytest.raises(IntegrityError), session_scope(database_url) as session:
        session.add(Rating(user_id=user_id, video_id=video_id, value=3))
        session.flush()
        session.add(Rating(user_id=user_id, video_id=video_id, value=5))


def test_foreign_keys_are_enforced(database_url: str) -> None:
    with pytest.raises(IntegrityError), session_scope(database_url) as session:
        session.add(Channel(owner_id=987654, name="orphan"))


def _event(event_id: str = "e1") -> InteractionEvent:
    return InteractionEvent(
        event_id=event_id,
        user_id=1,
        video_id=2,
        event_type=EventType.PLAY,
        watch_seconds=31.5,
        event_timestamp=datetime(2026, 11, 1, 12, tzinfo=UTC),
        session_id="s1",
    )


def test_event_log_is_append_only_in_the_orm(database_url: str) -> None:
    with session_scope(database_url) as session:
        session.add(_event())
    with pytest.raises(AppendOnlyError), session_scope(database_url) as session:
        stored = session.get(InteractionEvent, "e1")
        assert stored is not None
        stored.watch_seconds = 99.0
    with pytest.raises(AppendOnlyError), session_scope(database_url) as session:
        stored = session.get(InteractionEvent, "e1")
        session.delete(stored)
    with session_scope(database_url) as session:
        stored = session.get(InteractionEvent, "e1")
        assert stored is not None and stored.watch_seconds == 31.5


def test_event_log_is_append_only_in_the_database(database_url: str) -> None:
    with session_scope(database_url) as session:
        session.add(_event())
    for statement in (
        "UPDATE interaction_events SET value = 1 WHERE event_id = 'e1'",
        "DELETE FROM interaction_events WHERE event_id = 'e1'",
    ):
        with pytest.raises(Exception, match="append-only"), session_scope(database_url) as s:
            s.execute(text(statement))
    with session_scope(database_url) as session:
        assert session.scalar(text("SELECT count(*) FROM interaction_events")) == 1


def test_duplicate_event_id_is_refused(database_url: str) -> None:
    with session_scope(database_url) as session:
        session.add(_event())
    with pytest.raises(IntegrityError), session_scope(database_url) as session:
        session.add(_event())
