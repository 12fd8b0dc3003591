"""A real HLS package (test pattern, 4 s) and a catalogue of videos that use it, for the
streaming and playback tests."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.db.models import Channel, Rendition, Video
from core.db.session import session_scope
from core.settings import Settings
from core.types import VideoStatus, Visibility
from media.enrich.download import make_download_mp4
from media.enrich.storyboard import make_storyboard
from media.enrich.thumbnails import make_poster
from media.hls.audio import package_audio
from media.hls.master import write_master
from media.hls.rung import package_rung
from serving.app import create_app
from tests.account_helpers import make_admin, register, sign_in
from tests.test_media_hls_package import encode_rung

#: Frames of the packaged clip: 4 s at 25 fps.
CLIP_FRAMES = 100


def build_package(folder: Path) -> Path:
    """A full package as the pipeline writes it: one rung, audio, master, I-frame playlist,
    MP4 download, poster and storyboard; its folder."""
    source = encode_rung(folder / "source.mp4", seconds=4, size=(160, 90), gop_s=1)
    package = folder / "pkg"
    rung = package_rung(source, package, "90p", segment_seconds=2)
    audio = package_audio(source, package, segment_seconds=2)
    write_master(package, [rung], audio)
    make_download_mp4(source, None, package / "download.mp4")
    make_poster(source, package / "poster.jpg", width=160)
    make_storyboard(source, package / "storyboard", interval_s=1)
    return package


@dataclass
class World:
    """The app under test, its videos by name, and accounts by name (headers, ids)."""

    client: TestClient
    settings: Settings
    database_url: str
    videos: dict[str, int]
    headers: dict[str, dict[str, str]]
    users: dict[str, int]


def make_world(
    package: Path, data_root: Path, database_url: str, accounts: bool = True, **options: object
) -> World:
    """Videos ``open`` (public), ``unlisted``, ``premium`` and ``private`` (of ``owner``'s
    channel), all with the package; with ``accounts``, ``owner`` (creator), ``viewer``,
    ``other``, ``gold`` (premium plan) and ``admin``, signed in (hashing makes them slow)."""
    settings = Settings(data_root=data_root, database_url=database_url, **options)  # type: ignore[arg-type]
    client = TestClient(create_app(settings))
    users: dict[str, int] = {}
    headers: dict[str, dict[str, str]] = {}
    if accounts:
        users = {
            "owner": register(client, "owner", role="creator"),
            "viewer": register(client, "viewer"),
            "other": register(client, "other"),
            "gold": register(client, "gold"),
            "admin": make_admin(database_url, "admin"),
        }
        headers = {name: sign_in(client, name) for name in users}
        plan = client.put(
            f"/admin/users/{users['gold']}/plan",
            json={"plan": "premium"},
            headers=headers["admin"],
        )
        assert plan.status_code == 200, plan.text
    with session_scope(database_url) as session:
        channel = (
            session.scalars(select(Channel).where(Channel.owner_id == users["owner"])).one()
            if accounts
            else None
        )
        channel_id = channel.id if channel is not None else None
        rows = {
            "open": Video(title="Open", status=VideoStatus.READY, channel_id=channel_id),
            "unlisted": Video(
                title="Unlisted", status=VideoStatus.READY, visibility=Visibility.UNLISTED
            ),
            "premium": Video(
                title="Premium", status=VideoStatus.READY, premium=True, channel_id=channel_id
            ),
            "private": Video(
                title="Private",
                status=VideoStatus.READY,
                visibility=Visibility.PRIVATE,
                channel_id=channel_id,
            ),
        }
        session.add_all(rows.values())
        session.flush()
        videos = {name: video.id for name, video in rows.items()}
        for video_id in videos.values():
            target = settings.paths.packages / str(video_id)
            shutil.copytree(package, target)
            session.add(
                Rendition(
                    video_id=video_id,
                    name="90p",
                    width=160,
                    height=90,
                    bitrate=250_000,
                    codecs="avc1.64000d,mp4a.40.2",
                    playlist_path=str(
                        (target / "90p" / "index.m3u8").relative_to(settings.paths.root)
                    ),
                )
            )
    (settings.paths.root / "secret.txt").write_text("not for you")
    return World(client, settings, database_url, videos, headers, users)


def uris(playlist: str) -> list[str]:
    """Every URI of a playlist: URI lines and ``URI="..."`` attributes, in order."""
    found = []
    for line in playlist.splitlines():
        if line.startswith("#"):
            found += re.findall(r'URI="([^"]+)"', line)
        elif line.strip():
            found.append(line.strip())
    return found


def token_of(url: str) -> str:
    """The ``token`` query value of a URL."""
    return url.split("?token=", 1)[1]


def path_of(url: str) -> str:
    """A URL without its scheme and host (what to send to the test client)."""
    return re.sub(r"^https?://[^/]+", "", url)
