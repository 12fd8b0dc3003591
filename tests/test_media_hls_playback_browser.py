"""A generated package plays to the end in headless Chromium with hls.js, with no fatal error."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from media.encode.chunks import plan_progressive_chunks
from media.encode.ladder import LADDER
from media.encode.testpattern import make_test_clip
from media.encode.transcode import encode_rungs
from media.hls.audio import package_audio
from media.hls.master import write_master
from media.hls.progressive import append_chunk, finish_rung
from media.hls.validate import validate_package
from tests.conftest import service_unavailable
from tests.test_media_hls_package import build_package

CHROMIUM = os.environ.get("REELRANK_CHROMIUM", "/usr/bin/chromium")
HLSJS_VERSION = "1.7.4"
#: hls.js is installed from npm here once and reused by later runs.
HLSJS_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reelrank-hlsjs"
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
]
_PAGE = """<!doctype html>
<html><body>
<video id="video" muted autoplay playsinline></video>
<script src="/hls.min.js"></script>
<script>
const video = document.getElementById("video");
const switched = [];
let done = false;
function report(result) {
  if (done) return;
  done = true;
  fetch("/__result", {method: "POST", body: JSON.stringify(result)});
}
if (!Hls.isSupported()) {
  report({status: "unsupported"});
} else {
  const hls = new Hls({startLevel: 0, capLevelToPlayerSize: false, debug: false});
  hls.on(Hls.Events.ERROR, (event, data) => {
    if (data.fatal) {
      report({status: "fatal", type: data.type, details: data.details,
              reason: String(data.reason || data.error || "")});
    }
  });
  hls.on(Hls.Events.LEVEL_SWITCHED, (event, data) => switched.push(data.level));
  hls.on(Hls.Events.FRAG_BUFFERED, (event, data) => {
    // after the first fragment, ask for the top rung: exercises a switch at a segment boundary
    if (data.frag.type === "main" && data.frag.sn === 0) hls.nextLevel = hls.levels.length - 1;
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    video.play().catch((error) => report({status: "play-failed", reason: String(error)}));
  });
  video.addEventListener("ended", () => report({
    status: "ended", currentTime: video.currentTime, duration: video.duration,
    levels: hls.levels.length, audioTracks: hls.audioTracks.length, switched: switched,
    frames: video.getVideoPlaybackQuality().totalVideoFrames,
  }));
  video.addEventListener("error", () => report({status: "media-error",
    reason: video.error ? video.error.message : ""}));
  hls.loadSource("/pkg/master.m3u8");
  hls.attachMedia(video);
}
</script></body></html>
"""


def _require_chromium() -> None:
    """Skip (or fail under ``REELRANK_REQUIRE_SERVICES=1``) when Chromium is absent."""
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return
    service_unavailable("Chromium", f"not found at {CHROMIUM}; apt-get install -y chromium")


def _hlsjs() -> Path:
    """``hls.min.js`` of the pinned hls.js, installed from the npm registry on first use."""
    script = HLSJS_CACHE / HLSJS_VERSION / "node_modules" / "hls.js" / "dist" / "hls.min.js"
    if not script.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to fetch hls.js from the npm registry")
        package = f"hls.js@{HLSJS_VERSION}"
        prefix = str(HLSJS_CACHE / HLSJS_VERSION)
        subprocess.run(
            [npm, "install", "--prefix", prefix, "--no-audit", "--no-fund", package],
            check=True,
            capture_output=True,
            timeout=180,
        )
    return script


class _Handler(SimpleHTTPRequestHandler):
    """Serves the page, hls.js and the package; takes the page's result on ``POST /__result``."""

    #: Paths asked for, in order (class-wide: the tests run one at a time).
    requests: ClassVar[list[str]] = []

    def __init__(self, *args: object, root: Path, results: queue.Queue, **kwargs: object) -> None:
        self.results = results
        super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        _Handler.requests.append(self.path)
        super().do_GET()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.results.put(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: no request log on stderr."""


@contextmanager
def _serve(root: Path) -> Iterator[tuple[str, queue.Queue]]:
    """A loopback HTTP server over ``root`` (which gets the page and hls.js); its page URL."""
    shutil.copy(_hlsjs(), root / "hls.min.js")
    (root / "index.html").write_text(_PAGE, encoding="utf-8")
    results: queue.Queue = queue.Queue()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, root=root, results=results))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html", results
    finally:
        server.shutdown()
        server.server_close()


def _play(
    url: str, results: queue.Queue, tmp_path: Path, meanwhile: Callable[[], None] | None = None
) -> tuple[dict, str]:
    """Open ``url`` in headless Chromium, run ``meanwhile`` (if any), wait for the page's result;
    the result and Chromium's stderr."""
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    browser = subprocess.Popen(
        [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        if meanwhile is not None:
            meanwhile()
        result = results.get(timeout=60)
    except queue.Empty:
        result = {"status": "timeout: the page reported nothing within 60 s"}
    finally:
        os.killpg(browser.pid, signal.SIGTERM)
        try:
            _, stderr = browser.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(browser.pid, signal.SIGKILL)
            _, stderr = browser.communicate()
    return result, stderr.decode(errors="replace")[-2000:]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, queue.Queue]]:
    """A loopback HTTP server over a folder with the page, hls.js and a generated package."""
    _require_chromium()
    root = tmp_path / "site"
    root.mkdir()
    package, _, _ = build_package(tmp_path / "build", seconds=7.0, sizes=((192, 108), (320, 180)))
    report = validate_package(package)
    assert report.ok, str(report)
    package.rename(root / "pkg")
    with _serve(root) as served:
        yield served


@pytest.mark.slow
def test_hlsjs_plays_the_package_to_the_end(site: tuple[str, queue.Queue], tmp_path: Path) -> None:
    url, results = site
    result, stderr = _play(url, results, tmp_path)
    assert result["status"] == "ended", f"{result}\n{stderr}"
    assert result["duration"] == pytest.approx(7.0, abs=0.1)
    assert result["currentTime"] == pytest.approx(result["duration"], abs=0.1)
    assert (result["levels"], result["audioTracks"]) == (2, 1)
    assert 1 in result["switched"], "hls.js switched to the top rung"
    assert result["frames"] >= 150


@pytest.mark.slow
def test_hlsjs_plays_a_growing_rung_to_the_end_once_it_is_complete(tmp_path: Path) -> None:
    _require_chromium()
    root = tmp_path / "site"
    package = root / "pkg"
    clip = make_test_clip(tmp_path / "clip.mp4", seconds=14, width=640, height=360, fps=25)
    plan = plan_progressive_chunks(14, 25, 6.0, 30)
    assert len(plan) == 3
    parts = [
        encode_rungs(clip, [(tmp_path / f"c{c.index}.mp4", LADDER[0])], c.start_s, c.end_s)[0]
        for c in plan
    ]
    audio = package_audio(clip, package, "en")
    progress = append_chunk(None, parts[0].path, package, "240p", 0.0)
    write_master(package, [progress.live(1_000_000)], audio)

    live = "/pkg/240p/live.m3u8"
    _Handler.requests.clear()

    def grow() -> None:
        deadline = time.monotonic() + 30
        while live not in _Handler.requests and time.monotonic() < deadline:
            time.sleep(0.2)  # the player has the first 6 s before the rung grows
        state = progress
        for part in parts[1:]:
            state = append_chunk(state, part.path, package, "240p", part.first_frame / 25)
            time.sleep(1)
        finish_rung(state)

    with _serve(root) as (url, results):
        result, stderr = _play(url, results, tmp_path, grow)
    assert result["status"] == "ended", f"{result}\n{stderr}"
    assert _Handler.requests.count(live) >= 2, "hls.js reloaded the growing playlist"
    assert result["duration"] == pytest.approx(14.0, abs=0.1)
    assert result["currentTime"] == pytest.approx(result["duration"], abs=0.1)
    assert result["frames"] >= 300
