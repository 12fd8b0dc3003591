"""The web app: ``/`` answers ``web/index.html``; ``/app/...`` its own files and
``/app/lib/<name>`` the pinned browser libraries that ``npm ci --prefix web`` installs."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse

from core.errors import NotFoundError

router = APIRouter(include_in_schema=False)

#: The browser libraries the page loads, by the name it asks for: file under node_modules.
LIBRARIES = {
    "hls.js": "hls.js/dist/hls.min.js",
    "tus.js": "tus-js-client/dist/tus.min.js",
    "chart.js": "chart.js/dist/chart.umd.min.js",
}
#: Folders of ``web/`` the page may load files from.
SOURCE_FOLDERS = ("src", "styles")
#: Where ``index.html`` says what to do when the libraries are missing.
NOTICE_MARK = "<!-- setup-notice -->"
SETUP_COMMAND = "npm ci --prefix web"
#: Longest file path under ``/app/``.
MAX_ASSET_PATH = 200


def default_web_dir() -> Path:
    """The repository's ``web/`` folder (next to the ``serving`` package)."""
    return Path(__file__).resolve().parents[2] / "web"


def web_dir(request: Request) -> Path:
    """The ``web/`` folder the app serves (``app.state.web_dir``)."""
    folder: Path = request.app.state.web_dir
    return folder


def missing_libraries(folder: Path) -> list[str]:
    """Names of the libraries not installed under ``folder/node_modules``."""
    return [
        name for name, file in LIBRARIES.items() if not (folder / "node_modules" / file).is_file()
    ]


def _notice(missing: list[str]) -> str:
    names = ", ".join(missing)
    return (
        '<div class="setup-notice" role="alert">The browser libraries are not installed '
        f"({html.escape(names)}): run <code>{SETUP_COMMAND}</code> in the repository, then "
        "reload this page.</div>"
    )


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    """The app's page; it names the set-up command when the libraries are missing."""
    folder = web_dir(request)
    page = folder / "index.html"
    if not page.is_file():
        raise NotFoundError(f"the web app is missing: no {page}")
    text = page.read_text(encoding="utf-8")
    missing = missing_libraries(folder)
    if missing:
        text = text.replace(NOTICE_MARK, _notice(missing))
    return HTMLResponse(text, headers={"Cache-Control": "no-cache"})


@router.get("/app/lib/{name}")
def library(request: Request, name: str) -> FileResponse:
    """One pinned browser library from ``web/node_modules``."""
    file = LIBRARIES.get(name)
    if file is None:
        raise NotFoundError(f"no browser library {name!r}; known: {', '.join(LIBRARIES)}")
    path = web_dir(request) / "node_modules" / file
    if not path.is_file():
        raise NotFoundError(f"{name} is not installed: run {SETUP_COMMAND}")
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/app/{file_path:path}")
def asset(
    request: Request, file_path: Annotated[str, PathParam(max_length=MAX_ASSET_PATH)]
) -> FileResponse:
    """A file of the app's own source (``web/src``, ``web/styles``)."""
    folder = web_dir(request).resolve()
    target = (folder / file_path).resolve()
    allowed = [folder / name for name in SOURCE_FOLDERS]
    if not any(target.is_relative_to(root) for root in allowed) or not target.is_file():
        raise NotFoundError(f"no app file {file_path!r}")
    media_type = "text/javascript" if target.suffix == ".js" else None
    return FileResponse(target, media_type=media_type, headers={"Cache-Control": "no-cache"})
