"""Catalogue, search and HLS routes of the API over a real SQLite catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.db.models import Rendition, User, Video
from core.db.session import session_scope
from core.settings import Settings
from core.types import VideoStatus, Visibility
from serving.app import create_app
from serving.params import MAX_ID, MAX_OFFSET


@pytest.fixture
def catalogue(settings: Settings, sqlite_url: str) -> dict[str, int]:
    """Five videos of every visibility and status, one with an HLS package on disk."""
    ids: dict[str, int] = {}
    with session_scope(sqlite_url) as session:
        rows = {
            "cats": Video(title="Cats of Istanbul", status=VideoStatus.READY),
            "dogs": Video(title="Dogs at work", status=VideoStatus.READY),
            "cats2": Video(title="More cats: 100% fluff_", status=VideoStatus.READY),
            "private": Video(
                title="Private cats", status=VideoStatus.READY, visibility=Visibility.PRIVATE
            ),
            "unlisted": Video(
                title="Unlisted cats", status=VideoStatus.READY, visibility=Visibility.UNLISTED
            ),
            "processing": Video(title="Cats in progress", status=VideoStatus.PROCESSING),
        }
        session.add_all(rows.values())
        session.flush()
        ids = {name: video.id for name, video in rows.items()}
        package = settings.paths.packages / str(ids["dogs"])
        (package / "360p").mkdir(parents=True)
        (package / "master.m3u8").write_text(
            "#EXTM3U\n"
            '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",URI="audio_und/index.m3u8"\n'
            '#EXT-X-STREAM-INF:BANDWIDTH=900000,AUDIO="aud"\n360p/index.m3u8\n'
            '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="360p/iframes.m3u8"\n'
            '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",URI="https://cdn.example/subs.m3u8"\n'
        )
        (package / "360p" / "index.m3u8").write_text("#EXTM3U\n#EXT-X-ENDLIST\n")
        (package / "360p" / "init.mp4").write_bytes(b"\x00\x00\x00\x08ftyp")
        (settings.paths.root / "secret.txt").write_text("not for you")
        session.add(
            Rendition(
                video_id=ids["dogs"],
                name="360p",
                width=640,
                height=360,
                bitrate=800_000,
                codecs="avc1.64001e,mp4a.40.2",
                playlist_path=str(
                    (package / "360p" / "index.m3u8").relative_to(settings.paths.root)
                ),
            )
        )
    return ids


@pytest.fixture
def client(settings: Settings, catalogue: dict[str, int]) -> TestClient:
    return TestClient(create_app(settings))


def test_list_shows_only_public_ready_videos(client: TestClient, catalogue: dict[str, int]) -> None:
    body = client.get("/videos", params={"limit": 2}).json()
    assert body["total"] == 3
    assert len(body["items"]) == 2
    rest = client.get("/videos", params={"limit": 2, "offset": 2}).json()
    seen = {v["id"] for v in body["items"] + rest["items"]}
    assert seen == {catalogue["cats"], catalogue["dogs"], catalogue["cats2"]}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}])
def test_list_rejects_bad_paging(client: TestClient, params: dict[str, object]) -> None:
    response = client.get("/videos", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] in params


def test_get_video_and_its_manifest_url(client: TestClient, catalogue: dict[str, int]) -> None:
    body = client.get(f"/videos/{catalogue['dogs']}").json()
    assert body["title"] == "Dogs at work"
    assert body["manifest_url"] == f"/videos/{catalogue['dogs']}/manifest.m3u8"
    assert client.get(f"/videos/{catalogue['cats']}").json()["manifest_url"] is None
    assert client.get(f"/videos/{catalogue['unlisted']}").status_code == 200


@pytest.mark.parametrize("name", ["private", "processing"])
def test_hidden_videos_are_not_found(
    client: TestClient, catalogue: dict[str, int], name: str
) -> None:
    response = client.get(f"/videos/{catalogue[name]}")
    assert response.status_code == 404
    assert response.json()["detail"] == f"video {catalogue[name]} not found"


def test_unknown_video_is_404_with_message(client: TestClient) -> None:
    response = client.get("/videos/999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "video 999999 not found"}


def _tokenised(line: str, video_id: int, path: str) -> bool:
    return line.startswith(f"/videos/{video_id}/hls/{path}?token=")


def test_master_playlist_points_under_hls_with_tokens(
    client: TestClient, catalogue: dict[str, int]
) -> None:
    video_id = catalogue["dogs"]
    response = client.get(f"/videos/{video_id}/manifest.m3u8")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    lines = response.text.splitlines()
    variant = next(line for line in lines if line and not line.startswith("#"))
    assert _tokenised(variant, video_id, "360p/index.m3u8"), variant
    audio = re.search(r'URI="([^"]+audio_und[^"]+)"', response.text)
    assert audio is not None and _tokenised(audio.group(1), video_id, "audio_und/index.m3u8")
    iframes = re.search(r'URI="([^"]+iframes[^"]+)"', response.text)
    assert iframes is not None and _tokenised(iframes.group(1), video_id, "360p/iframes.m3u8")
    assert 'URI="https://cdn.example/subs.m3u8"' in response.text
    assert response.headers["cache-control"] == "private, no-cache", "rungs join the master later"
    playlist = client.get(variant)
    assert playlist.status_code == 200 and "#EXT-X-ENDLIST" in playlist.text
    assert playlist.headers["cache-control"] == "private, no-cache"
    token = variant.split("?token=", 1)[1]
    init = client.get(f"/videos/{video_id}/hls/360p/init.mp4?token={token}")
    assert init.content == b"\x00\x00\x00\x08ftyp"
    assert init.headers["cache-control"].startswith("private, max-age=")
    assert client.get(f"/videos/{video_id}/hls/360p/init.mp4").status_code == 401


def test_video_without_streams_has_no_manifest(
    client: TestClient, catalogue: dict[str, int]
) -> None:
    response = client.get(f"/videos/{catalogue['cats']}/manifest.m3u8")
    assert response.status_code == 404
    assert response.json()["detail"] == f"video {catalogue['cats']} has no streams yet"


@pytest.mark.parametrize(
    "path", ["../../../secret.txt", "..%2F..%2F..%2Fsecret.txt", "360p/none.m4s"]
)
def test_hls_files_cannot_escape_the_package(
    client: TestClient, catalogue: dict[str, int], path: str
) -> None:
    master = client.get(f"/videos/{catalogue['dogs']}/manifest.m3u8").text
    token = master.split("?token=", 1)[1].split("\n", 1)[0].split('"', 1)[0]
    response = client.get(f"/videos/{catalogue['dogs']}/hls/{path}?token={token}")
    assert response.status_code == 404
    assert "not for you" not in response.text


def test_search_ranks_the_best_match_first_case_insensitively(
    client: TestClient, catalogue: dict[str, int]
) -> None:
    body = client.get("/search", params={"q": "CATS"}).json()
    assert {v["id"] for v in body["items"]} == {catalogue["cats"], catalogue["cats2"]}
    body = client.get("/search", params={"q": "cats istanbul"}).json()
    assert body["items"][0]["id"] == catalogue["cats"]


def test_search_treats_wildcards_as_text(client: TestClient, catalogue: dict[str, int]) -> None:
    assert [v["id"] for v in client.get("/search", params={"q": "100%"}).json()["items"]] == [
        catalogue["cats2"]
    ]
    for symbols in ("%", "_", "*"):
        response = client.get("/search", params={"q": symbols})
        assert response.status_code == 400
        assert response.json() == {"detail": "query must contain at least one word"}


def test_search_rejects_empty_queries(client: TestClient) -> None:
    assert client.get("/search").status_code == 422
    response = client.get("/search", params={"q": "   "})
    assert response.status_code == 400
    assert response.json() == {"detail": "query must contain at least one word"}


def test_health_reports_database(client: TestClient, tmp_path: Path) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["database"] == "ok"


#: Values past what the database driver takes (the review's 500) and past the routes' bounds.
OUT_OF_RANGE = [
    "/videos?offset=86655516668683194728448",
    f"/videos?offset={MAX_OFFSET + 1}",
    "/videos?limit=86655516668683194728448",
    f"/videos/{MAX_ID + 1}",
    "/videos/86655516668683194728448",
    "/videos/0",
    "/videos/86655516668683194728448/manifest.m3u8",
    "/videos/1/hls/" + "a" * 201,
    "/search?q=cats&offset=86655516668683194728448",
    "/search?q=" + "x" * 201,
]


@pytest.mark.parametrize("path", OUT_OF_RANGE)
def test_out_of_range_parameters_are_422_on_every_engine(
    database_url: str, data_root: Path, path: str
) -> None:
    client = TestClient(create_app(Settings(data_root=data_root, database_url=database_url)))
    response = client.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_the_deepest_allowed_page_is_empty_not_an_error(database_url: str, data_root: Path) -> None:
    client = TestClient(create_app(Settings(data_root=data_root, database_url=database_url)))
    from serving.routes.search import MAX_SEARCH_OFFSET

    for path in (f"/videos?offset={MAX_OFFSET}", f"/search?q=cats&offset={MAX_SEARCH_OFFSET}"):
        body = client.get(path).json()
        assert body["items"] == []
    assert client.get(f"/videos/{MAX_ID}").status_code == 404


def test_nul_characters_never_reach_a_5xx(database_url: str, data_root: Path) -> None:
    """PostgreSQL text cannot hold NUL: a value the validators let through is refused with a
    422 that says so (the database's refusal is the caller's input, not a server error)."""
    with session_scope(database_url) as session:
        session.add(User(id=1, username="nul-tester"))
        session.add(Video(id=1, title="a video", status=VideoStatus.READY))
    postgres = database_url.startswith("postgresql")
    event = {
        "event_id": "nul-event-0001",
        "type": "play",
        "user_id": 1,
        "video_id": 1,
        "timestamp": "2026-12-01T00:00:00Z",
        "session_id": "a\u0000b",
    }
    with TestClient(create_app(Settings(data_root=data_root, database_url=database_url))) as c:
        answers = [
            c.get("/videos", params={"genre": "a\u0000b"}),
            c.post("/events", json={"events": [event]}),
        ]
    for answer in answers:
        assert answer.status_code < 500, answer.text
        if postgres:
            assert answer.status_code == 422 and "NUL" in answer.json()["detail"], answer.text
