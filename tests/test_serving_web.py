"""The web app's route: the page at ``/``, its own files and libraries under ``/app/``, the
set-up notice when the libraries are missing, and cards' posters without a stream token."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from serving.app import create_app
from serving.routes.web import LIBRARIES, SETUP_COMMAND, default_web_dir, missing_libraries
from tests.streaming_world import build_package, make_world


@pytest.fixture
def client(data_root: Path, sqlite_url: str) -> TestClient:
    return TestClient(create_app(Settings(data_root=data_root, database_url=sqlite_url)))


@pytest.fixture
def bare_web(tmp_path: Path) -> Path:
    """A copy of ``web/`` without ``node_modules`` (libraries never installed)."""
    source = default_web_dir()
    target = tmp_path / "web"
    target.mkdir()
    shutil.copy(source / "index.html", target / "index.html")
    shutil.copytree(source / "src", target / "src")
    shutil.copytree(source / "styles", target / "styles")
    return target


def test_index_is_the_app_page_at_the_root(client: TestClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/app/src/main.js">' in answer.text
    assert ('class="setup-notice"' in answer.text) == bool(missing_libraries(default_web_dir()))


def test_app_files_are_served_with_their_types(client: TestClient) -> None:
    script = client.get("/app/src/main.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "hashchange" in script.text
    style = client.get("/app/styles/app.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "path",
    [
        "/app/index.html",
        "/app/package.json",
        "/app/src/%2e%2e/%2e%2e/pyproject.toml",
        "/app/node_modules/hls.js/package.json",
        "/app/src/none.js",
    ],
)
def test_only_the_app_source_is_served(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404, answer.text
    assert "detail" in answer.json()


def test_installed_libraries_are_served_by_name(client: TestClient) -> None:
    if missing_libraries(default_web_dir()):
        pytest.fail(f"the browser libraries are not installed: run {SETUP_COMMAND}")
    for name in LIBRARIES:
        answer = client.get(f"/app/lib/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"].startswith("text/javascript")
    unknown = client.get("/app/lib/jquery.js")
    assert unknown.status_code == 404 and "hls.js" in unknown.json()["detail"]


def test_without_libraries_the_page_loads_and_names_the_command(
    client: TestClient, bare_web: Path
) -> None:
    client.app.state.web_dir = bare_web  # type: ignore[attr-defined]
    page = client.get("/")
    assert page.status_code == 200
    assert 'role="alert"' in page.text and SETUP_COMMAND in page.text
    for name in LIBRARIES:
        assert name in page.text
    library = client.get("/app/lib/hls.js")
    assert library.status_code == 404 and SETUP_COMMAND in library.json()["detail"]
    assert client.get("/app/src/main.js").status_code == 200


def test_api_routes_are_not_shadowed(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/videos").status_code == 200


def test_posters_of_listed_videos_need_no_token(data_root: Path, sqlite_url: str) -> None:
    (data_root.parent / "build").mkdir()
    package = build_package(data_root.parent / "build")
    world = make_world(package, data_root, sqlite_url, accounts=False)
    for name in ("open", "unlisted", "premium"):
        answer = world.client.get(f"/videos/{world.videos[name]}/poster.jpg")
        assert answer.status_code == 200, (name, answer.text)
        assert answer.headers["content-type"] == "image/jpeg"
        assert answer.content[:2] == b"\xff\xd8"
    hidden = world.client.get(f"/videos/{world.videos['private']}/poster.jpg")
    assert hidden.status_code == 404
    missing = world.client.get("/videos/999999/poster.jpg")
    assert missing.status_code == 404
