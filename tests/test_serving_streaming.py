"""Protected HLS delivery through the real app over a real package, on SQLite and PostgreSQL:
master -> media playlist -> init + segments with tokens; refused tokens; traversal; Range,
ETag and 304; the CDN base URL; growing playlists; storyboard, poster and download."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from serving import stream_tokens
from serving.signing_key import signing_key
from tests.streaming_world import (
    CLIP_FRAMES,
    World,
    build_package,
    make_world,
    path_of,
    token_of,
    uris,
)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("hls"))


@pytest.fixture
def world(package: Path, data_root: Path, database_url: str) -> Iterator[World]:
    yield make_world(package, data_root, database_url)


@pytest.fixture
def sqlite_world(package: Path, data_root: Path, sqlite_url: str) -> Iterator[World]:
    """The world on SQLite without accounts (for what the database engine cannot change)."""
    yield make_world(package, data_root, sqlite_url, accounts=False)


def _segment_url(world: World, video: str) -> str:
    """A video segment URL (with its token) of the video's rung, as an anonymous viewer."""
    master = world.client.get(f"/videos/{world.videos[video]}/manifest.m3u8")
    assert master.status_code == 200, master.text
    rung = next(u for u in uris(master.text) if u.split("?")[0].endswith("90p/index.m3u8"))
    playlist = world.client.get(rung).text
    return next(u for u in uris(playlist) if "seg_00001.m4s" in u)


def test_anonymous_plays_a_public_video_end_to_end(world: World, tmp_path: Path) -> None:
    video_id = world.videos["open"]
    master = world.client.get(f"/videos/{video_id}/manifest.m3u8")
    assert master.status_code == 200
    assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert "no-cache" in master.headers["cache-control"]
    assert "CODECS=" in master.text and "#EXT-X-INDEPENDENT-SEGMENTS" in master.text
    found = uris(master.text)
    assert len(found) == 3, master.text  # audio rendition, variant, I-frame playlist
    for url in found:
        assert url.startswith(f"/videos/{video_id}/hls/") and "?token=" in url, url
        grant = stream_tokens.verify(signing_key(world.settings), token_of(url))
        assert (grant.video_id, grant.viewer_id, grant.session_id) == (video_id, 0, None)
        playlist = world.client.get(url)
        assert playlist.status_code == 200, playlist.text
        assert playlist.headers["cache-control"] == "private, no-cache"
        assert playlist.text.startswith("#EXTM3U")
    variant = next(u for u in found if "90p/index.m3u8" in u)
    playlist = world.client.get(variant).text
    init = next(u for u in uris(playlist) if "init.mp4" in u)
    segments = [u for u in uris(playlist) if ".m4s" in u]
    assert len(segments) == 2
    assert all(u.startswith(f"/videos/{video_id}/hls/90p/") and "?token=" in u for u in segments)
    body = world.client.get(init).content
    for url in segments:
        response = world.client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == "video/iso.segment"
        assert response.headers["cache-control"].startswith("private, max-age=")
        body += response.content
    stream = tmp_path / "stream.mp4"
    stream.write_bytes(body)
    with av.open(str(stream)) as container:
        assert sum(1 for _ in container.decode(video=0)) == CLIP_FRAMES


def test_unlisted_videos_play_without_signing_in(sqlite_world: World) -> None:
    segment = _segment_url(sqlite_world, "unlisted")
    assert sqlite_world.client.get(segment).status_code == 200


def test_files_need_a_token(sqlite_world: World) -> None:
    video_id = sqlite_world.videos["open"]
    for name in ("90p/index.m3u8", "90p/init.mp4", "90p/seg_00000.m4s", "download.mp4"):
        response = sqlite_world.client.get(f"/videos/{video_id}/hls/{name}")
        assert response.status_code == 401, name
        assert "needs a stream token" in response.json()["detail"]


def _with(url: str, token: str) -> str:
    return url.split("?token=")[0] + f"?token={token}"


def test_refused_tokens_are_4xx_with_a_reason(world: World) -> None:
    client, key = world.client, signing_key(world.settings)
    segment = _segment_url(world, "open")
    token = token_of(segment)
    assert client.get(segment).status_code == 200
    video_id = world.videos["open"]

    expired = stream_tokens.issue(key, video_id, 0, None, stream_tokens.expiry(-1))
    response = client.get(_with(segment, expired))
    assert response.status_code == 401 and "expired" in response.json()["detail"]

    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = client.get(_with(segment, flipped))
    assert response.status_code == 403 and "signature" in response.json()["detail"]
    # The payload changed (another video id of the same length), the signature kept.
    parts = token.split(".")
    parts[1] = str(int(parts[1]) + 1) if not parts[1].endswith("9") else str(int(parts[1]) - 1)
    response = client.get(_with(segment, ".".join(parts)))
    assert response.status_code == 403 and "signature" in response.json()["detail"]

    for malformed in ("abc", "s1.1.0.0.9.x", "s2" + token[2:], token + ".x"):
        response = client.get(_with(segment, malformed))
        assert response.status_code == 401, malformed
        assert response.json()["detail"] == "malformed stream token"
    response = client.get(_with(segment, "a" * 257))
    assert response.status_code == 422

    other = world.videos["unlisted"]
    replayed = f"/videos/{other}/hls/90p/seg_00001.m4s?token={token}"
    response = client.get(replayed)
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"this stream token was issued for video {video_id}, not video {other}"
    )
    master = client.get(f"/videos/{other}/manifest.m3u8?token={token}")
    assert master.status_code == 403


def test_a_token_of_another_viewer_is_refused(world: World) -> None:
    video_id = world.videos["open"]
    master = world.client.get(f"/videos/{video_id}/manifest.m3u8", headers=world.headers["viewer"])
    variant = next(u for u in uris(master.text) if "90p/index.m3u8" in u)
    grant = stream_tokens.verify(signing_key(world.settings), token_of(variant))
    assert grant.viewer_id == world.users["viewer"]
    assert world.client.get(variant, headers=world.headers["viewer"]).status_code == 200
    response = world.client.get(variant, headers=world.headers["other"])
    assert response.status_code == 403
    assert response.json()["detail"] == "this stream token was issued to another viewer"
    response = world.client.get(
        f"/videos/{video_id}/manifest.m3u8?token={token_of(variant)}",
        headers=world.headers["other"],
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "name",
    [
        "../../../secret.txt",
        "..%2F..%2F..%2Fsecret.txt",
        "%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "90p/../../../../secret.txt",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "..%5C..%5C..%5Csecret.txt",
        "90p%5Cinit.mp4",
        "90p/init.mp4%00.m4s",
        "90p/none.m4s",
        "source.mp4",
        "90p",
    ],
)
def test_package_files_cannot_escape_the_package(sqlite_world: World, name: str) -> None:
    token = token_of(_segment_url(sqlite_world, "open"))
    video_id = sqlite_world.videos["open"]
    response = sqlite_world.client.get(f"/videos/{video_id}/hls/{name}?token={token}")
    assert response.status_code == 404, response.text
    assert "not for you" not in response.text and "root:" not in response.text


def test_too_long_file_names_are_422(sqlite_world: World) -> None:
    token = token_of(_segment_url(sqlite_world, "open"))
    video_id = sqlite_world.videos["open"]
    response = sqlite_world.client.get(f"/videos/{video_id}/hls/{'a' * 201}?token={token}")
    assert response.status_code == 422


def test_range_etag_and_304_on_segments_and_the_download(sqlite_world: World) -> None:
    client, settings = sqlite_world.client, sqlite_world.settings
    video_id = sqlite_world.videos["open"]
    token = token_of(_segment_url(sqlite_world, "open"))
    package = settings.paths.packages / str(video_id)
    for name in ("90p/seg_00001.m4s", "download.mp4"):
        url = f"/videos/{video_id}/hls/{name}?token={token}"
        data = (package / name).read_bytes()
        whole = client.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["accept-ranges"] == "bytes"
        etag = whole.headers["etag"]
        part = client.get(url, headers={"Range": "bytes=100-299"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-299/{len(data)}"
        assert part.content == data[100:300]
        tail = client.get(url, headers={"Range": "bytes=-50"})
        assert tail.status_code == 206 and tail.content == data[-50:]
        beyond = client.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(data)}"
        same = client.get(url, headers={"If-None-Match": etag})
        assert same.status_code == 304 and same.content == b""
        assert same.headers["etag"] == etag
        assert client.get(url, headers={"If-None-Match": f"W/{etag}, x"}).status_code == 304
        changed = client.get(url, headers={"If-None-Match": '"stale"'})
        assert changed.status_code == 200 and changed.content == data
        max_age = int(whole.headers["cache-control"].removeprefix("private, max-age="))
        assert 0 < max_age <= settings.stream_token_ttl_s + 10
    download = client.get(f"/videos/{video_id}/hls/download.mp4?token={token}")
    assert download.headers["content-type"] == "video/mp4"
    assert download.headers["content-disposition"] == f'attachment; filename="video-{video_id}.mp4"'


def test_storyboard_and_poster_carry_tokens(sqlite_world: World) -> None:
    client = sqlite_world.client
    video_id = sqlite_world.videos["open"]
    token = token_of(_segment_url(sqlite_world, "open"))
    vtt = client.get(f"/videos/{video_id}/hls/storyboard/storyboard.vtt?token={token}")
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT")
    cues = [line for line in vtt.text.splitlines() if "#xywh=" in line]
    assert len(cues) == 4
    assert all(
        line.startswith(f"/videos/{video_id}/hls/storyboard/sprite.jpg?token=") for line in cues
    )
    sprite = client.get(cues[0].split("#", 1)[0])
    assert sprite.status_code == 200 and sprite.content[:2] == b"\xff\xd8"
    poster = client.get(f"/videos/{video_id}/hls/poster.jpg?token={token}")
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    assert client.get(f"/videos/{video_id}/hls/poster.jpg").status_code == 401


def test_cdn_base_url_is_in_rewritten_playlists(
    package: Path, data_root: Path, sqlite_url: str
) -> None:
    world = make_world(
        package, data_root, sqlite_url, accounts=False, cdn_base_url="https://cdn.example.com/"
    )
    video_id = world.videos["open"]
    master = world.client.get(f"/videos/{video_id}/manifest.m3u8").text
    variant = next(u for u in uris(master) if "90p/index.m3u8" in u)
    assert variant.startswith(f"/videos/{video_id}/hls/"), "playlists stay on this service"
    playlist = world.client.get(variant).text
    found = uris(playlist)
    assert found and all(
        u.startswith(f"https://cdn.example.com/videos/{video_id}/hls/90p/") and "?token=" in u
        for u in found
    ), playlist
    assert world.client.get(path_of(found[-1])).status_code == 200


def test_growing_event_playlists_are_rewritten_per_fetch(sqlite_world: World) -> None:
    client, settings = sqlite_world.client, sqlite_world.settings
    video_id = sqlite_world.videos["open"]
    token = token_of(_segment_url(sqlite_world, "open"))
    playlist = settings.paths.packages / str(video_id) / "90p" / "index.m3u8"
    lines = playlist.read_text().replace("VOD", "EVENT").splitlines()
    first = [line for line in lines if line != "#EXT-X-ENDLIST"][:-2]  # one segment so far
    playlist.write_text("\n".join(first) + "\n")
    url = f"/videos/{video_id}/hls/90p/index.m3u8?token={token}"
    before = client.get(url)
    assert [u for u in uris(before.text) if ".m4s" in u][-1].split("?")[0].endswith("seg_00000.m4s")
    assert before.headers["cache-control"] == "private, no-cache"
    playlist.write_text("\n".join(lines) + "\n")
    after = [u for u in uris(client.get(url).text) if ".m4s" in u]
    assert len(after) == 2 and "seg_00001.m4s?token=" in after[-1]
    assert client.get(after[-1]).status_code == 200


def test_a_video_without_streams_has_no_master(sqlite_world: World) -> None:
    from core.db.models import Rendition
    from core.db.session import session_scope

    video_id = sqlite_world.videos["open"]
    with session_scope(sqlite_world.database_url) as session:
        session.query(Rendition).filter(Rendition.video_id == video_id).delete()
    response = sqlite_world.client.get(f"/videos/{video_id}/manifest.m3u8")
    assert response.status_code == 404
    assert response.json()["detail"] == f"video {video_id} has no streams yet"


def test_anonymous_tokens_stop_renewing_once_a_video_is_closed(sqlite_world: World) -> None:
    from core.db.models import Video
    from core.db.session import session_scope
    from core.types import Visibility

    video_id = sqlite_world.videos["open"]
    segment = _segment_url(sqlite_world, "open")
    playlist = f"/videos/{video_id}/hls/90p/index.m3u8?token={token_of(segment)}"
    assert sqlite_world.client.get(playlist).status_code == 200
    with session_scope(sqlite_world.database_url) as session:
        video = session.get(Video, video_id)
        assert video is not None
        video.visibility = Visibility.PRIVATE
    response = sqlite_world.client.get(playlist)
    assert response.status_code == 403
    assert response.json()["detail"] == (f"video {video_id} is no longer open to anonymous viewers")
    # Segments cost no lookup: the ones already listed play until their token expires.
    assert sqlite_world.client.get(segment).status_code == 200
    assert sqlite_world.client.get(f"/videos/{video_id}/manifest.m3u8").status_code == 404


def test_stream_urls_of_free_videos_for_anyone_and_sessions_for_the_rest(world: World) -> None:
    """``GET /videos/{id}/stream``: one token for the master, poster, storyboard and
    download of a free video, anonymous or signed in; premium and private videos are
    refused with the reason (they play within a playback session)."""
    client, videos = world.client, world.videos
    for name, headers in (("open", {}), ("unlisted", {}), ("open", world.headers["viewer"])):
        answer = client.get(f"/videos/{videos[name]}/stream", headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        token = token_of(body["manifest_url"])
        grant = stream_tokens.verify(signing_key(world.settings), token)
        viewer = world.users["viewer"] if headers else 0
        assert (grant.video_id, grant.viewer_id, grant.session_id) == (videos[name], viewer, None)
        assert all(token_of(body[key]) == token for key in ("poster_url", "download_url"))
        master = client.get(body["manifest_url"], headers=headers)
        assert master.status_code == 200 and master.text.startswith("#EXTM3U")
        vtt = client.get(body["storyboard_url"], headers=headers)
        assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
    anonymous_premium = client.get(f"/videos/{videos['premium']}/stream")
    assert anonymous_premium.status_code == 401
    assert "premium" in anonymous_premium.json()["detail"]
    gold = client.get(f"/videos/{videos['premium']}/stream", headers=world.headers["gold"])
    assert gold.status_code == 403 and "playback session" in gold.json()["detail"]
    own = client.get(f"/videos/{videos['private']}/stream", headers=world.headers["owner"])
    assert own.status_code == 403 and "playback session" in own.json()["detail"]
    hidden = client.get(f"/videos/{videos['private']}/stream", headers=world.headers["other"])
    assert hidden.status_code == 404
    assert client.get("/videos/999999/stream").status_code == 404
