"""The web app in headless Chromium (Playwright, the system browser) against a live server:
sign up, search, watch (first frame, 5 s without a stall, manual quality, storyboard preview,
keyboard only), events stored; screenshots of each page under ``var/test-artifacts/web``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import delete, select

from core.db.migrate import upgrade
from core.db.models import InteractionEvent, Upload, Video
from core.db.session import session_scope
from core.types import VideoStatus
from media.encode.testpattern import make_test_clip
from media.enrich.storyboard import make_storyboard
from media.enrich.thumbnails import make_poster
from media.hls.audio import package_audio
from media.hls.master import write_master
from media.hls.rung import package_rung
from serving.routes.web import default_web_dir, missing_libraries
from tests.live_server import live_server
from tests.streaming_world import make_world
from tests.test_media_hls_package import encode_rung
from tests.test_media_hls_playback_browser import _FLAGS, CHROMIUM, _require_chromium

pytestmark = pytest.mark.slow

#: Seconds of the packaged clip (long enough for a 10 s progress heartbeat).
CLIP_S = 12
#: The one caption of the package's ``captions.vtt``.
CAPTION = "Hello from the test pattern"
#: Where the screenshots go (ignored by git; CI keeps the folder as an artifact).
ARTIFACTS = Path("var/test-artifacts/web")
PASSWORD = "correct horse battery"
#: The world's A/B experiment, charted on the admin page (a draft: starting one needs a model).
EXPERIMENT = "web-ab"
#: True once the watch page's player has shown its first frame.
FIRST_FRAME = "() => (window.reelrank.player?.stats.firstFrameMs ?? null) !== null"


@dataclass
class Site:
    """The live server's URL, its catalogue and the world's videos by name."""

    url: str
    database_url: str
    videos: dict[str, int]


def build_ladder_package(folder: Path) -> Path:
    """A package of two rungs (108p, 180p) with audio, poster, a 1 s storyboard and
    captions."""
    encoded = folder / "encoded"
    encoded.mkdir(parents=True)
    package = folder / "pkg"
    rungs = []
    for width, height in ((192, 108), (320, 180)):
        source = encode_rung(encoded / f"{height}p.mp4", CLIP_S, (width, height), gop_s=1)
        rungs.append(package_rung(source, package, f"{height}p", segment_seconds=2))
    top = encoded / "180p.mp4"
    write_master(package, rungs, package_audio(top, package, segment_seconds=2))
    make_poster(top, package / "poster.jpg", width=320)
    make_storyboard(top, package / "storyboard", interval_s=1)
    (package / "captions.vtt").write_text(
        f"WEBVTT\n\n00:00:00.000 --> 00:00:{CLIP_S:02d}.000\n{CAPTION}\n"
    )
    return package


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A live server over the streaming world (its videos get the two-rung package)."""
    _require_chromium()
    missing = missing_libraries(default_web_dir())
    if missing:
        pytest.fail(f"the web app's libraries are missing ({missing}): run npm ci --prefix web")
    folder = tmp_path_factory.mktemp("web")
    data_root = folder / "var"
    database_url = f"sqlite:///{data_root / 'reelrank.db'}"
    data_root.mkdir()
    upgrade(database_url)
    package = build_ladder_package(folder / "build")
    world = make_world(package, data_root, database_url)
    admin = world.headers["admin"]
    variants = [{"name": "control", "traffic": 0.5}, {"name": "treatment", "traffic": 0.5}]
    made = world.client.post(
        "/experiments", json={"name": EXPERIMENT, "variants": variants}, headers=admin
    )
    assert made.status_code == 201, made.text
    with session_scope(database_url) as session:
        for video in session.scalars(select(Video)):
            video.duration_s = float(CLIP_S)
            video.description = f"The {video.title.lower()} test pattern."
    env = {
        "REELRANK_DATABASE_URL": database_url,
        "REELRANK_SEARCH_SEMANTIC": "false",
        "REELRANK_MEDIA_PROCESSING": "local",
    }
    with live_server(data_root, env=env) as url:
        yield Site(url, database_url, world.videos)


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no browser is downloaded)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page (desktop size); console errors are printed."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=site.url)
    page = context.new_page()
    page.on(
        "console",
        lambda message: print(f"[console.{message.type}] {message.text} {message.location['url']}"),
    )
    page.on("pageerror", lambda error: print(f"[pageerror] {error}"))
    yield page
    context.close()


def screenshot(page: Any, name: str, full_page: bool = True) -> Path:
    """Save a screenshot (of the whole page, or of the viewport as it is) as a test
    artifact; its path (printed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print(f"screenshot: {path.resolve()}")
    return path


def sign_up(page: Any, username: str, role: str = "viewer") -> None:
    """Open an account through the account page's sign-up form; back on home, signed in."""
    page.goto("/#/account")
    form = page.get_by_role("form", name="Sign up")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_label("Account type").select_option(role)
    screenshot(page, "account-sign-up")
    form.get_by_role("button", name="Create account").click()
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name=username, exact=True).wait_for()


def player_stats(page: Any) -> dict[str, Any]:
    stats: dict[str, Any] = page.evaluate("() => window.reelrank.player.stats")
    return stats


def wait_until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


def stored_events(database_url: str, username_id: int) -> list[InteractionEvent]:
    with session_scope(database_url) as session:
        rows = session.scalars(
            select(InteractionEvent).where(InteractionEvent.user_id == username_id)
        ).all()
        session.expunge_all()
        return list(rows)


def test_index_loads_without_setup_notice(page: Any, site: Site) -> None:
    page.goto("/")
    page.get_by_role("region", name="Trending").get_by_role("link").first.wait_for()
    assert page.locator(".setup-notice").count() == 0
    screenshot(page, "home-signed-out")


def test_sign_up_search_and_watch_plays_and_its_events_are_stored(page: Any, site: Site) -> None:
    sign_up(page, "webviewer")
    user_id = page.evaluate("() => window.reelrank.user.id")
    page.get_by_role("region", name="More videos").get_by_role("link").first.wait_for()
    screenshot(page, "home-signed-in")

    search = page.get_by_label("Search videos")
    search.press_sequentially("Ope", delay=50)
    suggestion = page.get_by_role("option", name="Open")
    suggestion.wait_for()
    screenshot(page, "search-suggest")
    suggestion.click()
    results = page.locator("main .grid")
    results.get_by_role("link", name="Open").first.wait_for()
    screenshot(page, "search-results")
    found = results.get_by_role("link", name="Open").first.get_attribute("href")
    assert found == f"#/watch/{site.videos['open']}"

    page.get_by_role("link", name="Home").click()
    card = page.get_by_role("region", name="For you").get_by_role("link", name="Open")
    recommendation_id = card.get_attribute("href").split("rec=")[1]
    card.click()

    page.wait_for_url(f"**/#/watch/{site.videos['open']}?rec={recommendation_id}")
    wait_until(
        lambda: page.evaluate(FIRST_FRAME),
        10,
        "the first frame",
    )
    stats = player_stats(page)
    print(f"first frame after {stats['firstFrameMs']} ms")
    assert stats["firstFrameMs"] < 1000, stats
    start = page.evaluate("() => window.reelrank.player.video.currentTime")
    wait_until(
        lambda: page.evaluate("() => window.reelrank.player.video.currentTime") >= start + 5,
        10,
        "5 s of playback",
    )
    stats = player_stats(page)
    assert stats["stalls"] == 0, stats
    screenshot(page, "watch")

    quality = page.get_by_label("Quality")
    options = quality.locator("option").all_text_contents()
    assert options[0].startswith("Auto") and len(options) == 3, options
    level = player_stats(page)["level"]
    target = 0 if level != 0 else 1
    quality.select_option(str(target))
    wait_until(lambda: player_stats(page)["level"] == target, 10, "the manual quality switch")
    assert player_stats(page)["switches"][-1] == {"from": level, "to": target, "reason": "manual"}

    page.wait_for_function("() => window.reelrank.player.video.ended", timeout=20_000)
    page.evaluate("() => window.reelrank.telemetry.flush()")
    wanted = {"impression", "click", "play", "progress", "quality_change", "complete"}

    def all_stored() -> list[InteractionEvent] | None:
        rows = stored_events(site.database_url, user_id)
        return rows if wanted <= {row.event_type.value for row in rows} else None

    events = wait_until(all_stored, 10, f"stored events {sorted(wanted)}")
    on_video = [row for row in events if row.video_id == site.videos["open"]]
    play = next(row for row in on_video if row.event_type.value == "play")
    assert play.properties is not None and play.properties["startup_ms"] == stats["firstFrameMs"]
    switch = next(row for row in on_video if row.event_type.value == "quality_change")
    assert switch.properties is not None and switch.properties["reason"] == "manual"
    player_events = [row for row in on_video if row.event_type.value not in ("impression", "click")]
    assert len({row.session_id for row in player_events}) == 1, player_events
    answered = [row for row in on_video if row.event_type.value != "impression"]
    assert {row.recommendation_id for row in answered} == {recommendation_id}, answered
    assert any(
        row.event_type.value == "impression" and row.recommendation_id == recommendation_id
        for row in on_video
    )
    complete = next(row for row in on_video if row.event_type.value == "complete")
    assert complete.watch_seconds is not None and complete.watch_seconds > CLIP_S - 3


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "signed-out"])
def test_seek_bar_hover_shows_a_storyboard_preview(page: Any, site: Site, signed_in: bool) -> None:
    if signed_in:
        sign_up(page, "webhover")
    page.goto(f"/#/watch/{site.videos['open']}")
    page.wait_for_function(FIRST_FRAME)
    page.wait_for_function("() => window.reelrank.player.cues.length > 0")
    page.get_by_role("region", name="Comments").wait_for()  # the page is laid out in full
    seek = page.get_by_role("slider", name="Seek")
    box = seek.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2, steps=5)
    preview = page.locator(".seek-preview")
    preview.wait_for(state="visible")
    image = preview.locator(".seek-preview-image")
    style = image.evaluate(
        "e => { const css = getComputedStyle(e);"
        " return {bg: css.backgroundImage, pos: css.backgroundPosition, w: e.offsetWidth}; }"
    )
    assert "sprite" in style["bg"] and style["w"] > 0, style
    assert style["pos"] != "0px 0px", style
    assert preview.locator(".seek-preview-time").text_content() == "0:09"
    name = "watch-storyboard-preview" + ("" if signed_in else "-signed-out")
    screenshot(page, name, full_page=False)


def test_watch_page_works_from_the_keyboard_alone(page: Any, site: Site) -> None:
    sign_up(page, "webkeys")
    page.goto(f"/#/watch/{site.videos['open']}")
    page.wait_for_function(FIRST_FRAME)
    focused = page.evaluate("() => document.activeElement.className")
    assert focused == "player", focused
    page.keyboard.press("k")
    page.wait_for_function("() => window.reelrank.player.video.paused")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.reelrank.player.video.currentTime >= 5")
    page.keyboard.press(" ")
    page.wait_for_function("() => !window.reelrank.player.video.paused")
    page.keyboard.press("m")
    assert page.evaluate("() => window.reelrank.player.video.muted") is False
    page.wait_for_function("() => window.reelrank.player.sideCaptions !== undefined")
    page.keyboard.press("c")
    page.wait_for_function(
        "() => [...(window.reelrank.player.sideCaptions.activeCues || [])].length > 0"
    )
    cue = page.evaluate("() => window.reelrank.player.sideCaptions.activeCues[0].text")
    assert cue == CAPTION
    labels = []
    for _ in range(40):
        page.keyboard.press("Tab")
        labels.append(
            page.evaluate(
                "() => { const e = document.activeElement;"
                " return e.getAttribute('aria-label') || e.textContent.trim().slice(0, 30); }"
            )
        )
        if labels[-1] == "Quality":
            break
    assert labels == ["Pause", "Seek", "Quality"], labels
    level = player_stats(page)["level"]
    page.keyboard.press("ArrowDown" if level == 1 else "End")
    wait_until(lambda: player_stats(page)["level"] == 1 - level, 10, "a switch from the keyboard")
    screenshot(page, "watch-keyboard")


def test_upload_survives_a_reload_becomes_playable_and_appears_in_the_channel(
    page: Any, site: Site, tmp_path: Path
) -> None:
    clip = make_test_clip(tmp_path / "clip.mp4", seconds=6, width=640, height=360)
    sign_up(page, "webcreator", role="creator")
    page.goto("/#/upload")
    form = page.get_by_role("form", name="Upload a video")
    form.get_by_label("Video file").set_input_files(str(clip))
    form.get_by_label("Title").fill("Web upload")
    form.get_by_label("Tags (comma separated)").fill("demo, web")
    patches: list[int] = []

    def break_the_connection(route: Any) -> None:
        """The first PATCH delivers half its bytes, then the connection breaks (as every
        later one does, until the reload)."""
        if route.request.method != "PATCH":
            route.continue_()
            return
        body = route.request.post_data_buffer or b""
        if not patches:
            half = route.fetch(post_data=body[: len(body) // 2])
            assert half.status == 204, half.text()
        patches.append(len(body))
        route.abort("connectionreset")

    page.route("**/uploads/*", break_the_connection)
    form.get_by_role("button", name="Upload").click()
    page.get_by_text("Upload failed").wait_for(timeout=30_000)
    bar = page.get_by_label("Upload progress")
    screenshot(page, "upload-interrupted")
    page.unroute("**/uploads/*")
    page.reload()
    stopped_at = wait_until(lambda: bar.evaluate("e => e.value"), 10, "the stored offset")
    assert stopped_at == pytest.approx(0.5, abs=0.01), stopped_at
    page.get_by_text("choose the same file").wait_for()
    screenshot(page, "upload-after-reload")

    form.get_by_label("Video file").set_input_files(str(clip))
    form.get_by_role("button", name="Upload").click()
    watch = page.get_by_role("link", name="watch it now")
    watch.wait_for(timeout=240_000)
    studio = page.get_by_role("region", name="Your videos")
    studio.get_by_text("Web upload ·").click()
    edit = studio.get_by_role("form", name="Edit Web upload")
    edit.get_by_label("Description").fill("Uploaded from the browser.")
    edit.get_by_role("button", name="Save").click()
    edit.get_by_text("Saved.").wait_for()
    screenshot(page, "upload-processed")
    with session_scope(site.database_url) as session:
        video = session.scalars(select(Video).where(Video.title == "Web upload")).one()
        video_id, tags, description = video.id, list(video.tags), video.description
        uploads = session.scalars(select(Upload).where(Upload.video_id == video_id)).all()
        received = [(upload.offset, upload.length) for upload in uploads]
    assert tags == ["demo", "web"] and description == "Uploaded from the browser."
    assert received == [(clip.stat().st_size, clip.stat().st_size)]
    watch.click()
    page.wait_for_url(f"**/#/watch/{video_id}")
    page.wait_for_function(FIRST_FRAME, timeout=20_000)

    channel_id = page.evaluate("() => window.reelrank.user.channels[0].id")
    page.goto(f"/#/channel/{channel_id}")
    page.get_by_role("region", name="Videos").get_by_role("link", name="Web upload").wait_for()
    screenshot(page, "channel")


def sign_in(page: Any, username: str) -> None:
    """Sign in through the account page's form; back on home, signed in."""
    page.goto("/#/account")
    form = page.get_by_role("form", name="Sign in")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name=username, exact=True).wait_for()


def test_admin_dashboard_shows_the_session_just_played(page: Any, site: Site) -> None:
    sign_in(page, "admin")
    page.goto(f"/#/watch/{site.videos['unlisted']}")
    page.wait_for_function(FIRST_FRAME)
    page.wait_for_function("() => window.reelrank.player.video.currentTime >= 2")
    page.evaluate("() => window.reelrank.telemetry.flush()")

    page.get_by_role("link", name="Admin", exact=True).click()
    top = page.get_by_role("region", name="Top videos")
    row = top.locator("tr", has=page.get_by_role("link", name="Unlisted"))
    row.wait_for()
    assert int(row.locator("td").nth(1).text_content()) >= 1
    qoe = page.get_by_role("region", name="Quality of experience")
    qoe.wait_for()
    assert int(qoe.get_attribute("data-views")) >= 1
    charts = page.locator("canvas")
    assert charts.count() >= 4
    experiments = page.get_by_role("region", name="Experiments")
    experiments.get_by_role("heading", name=f"{EXPERIMENT} (draft)").wait_for()
    assert experiments.locator("canvas").count() >= 1
    screenshot(page, "admin")


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 800)])
def test_pages_fit_phone_and_desktop_widths(
    browser: Any, site: Site, width: int, height: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=site.url)
    page = context.new_page()
    try:
        for name, address, ready in (
            ("home", "/", "Trending"),
            ("watch", f"/#/watch/{site.videos['open']}", "Similar videos"),
            ("account", "/#/account", None),
        ):
            page.goto(address)
            if ready:
                page.get_by_role("region", name=ready).get_by_role("link").first.wait_for()
            else:
                page.get_by_role("form", name="Sign up").wait_for()
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (name, width, overflow)
            screenshot(page, f"{name}-{width}px")
    finally:
        context.close()


def test_watch_page_resumes_where_the_viewer_left(page: Any, site: Site) -> None:
    page.goto("/")
    video_id = site.videos["open"]
    page.evaluate(f"() => localStorage.setItem('reelrank.resume.{video_id}', '8')")
    page.goto(f"/#/watch/{video_id}")
    page.wait_for_function(FIRST_FRAME)
    assert page.evaluate("() => window.reelrank.player.video.currentTime") >= 8


def test_a_signed_in_viewer_resumes_from_the_account_not_the_browser(page: Any, site: Site) -> None:
    sign_up(page, "webresume")
    video_id = site.videos["open"]
    page.goto(f"/#/watch/{video_id}")
    page.wait_for_function(FIRST_FRAME)
    page.evaluate("() => { window.reelrank.player.video.currentTime = 9; }")
    page.wait_for_function("() => window.reelrank.player.video.currentTime >= 9")
    page.keyboard.press("k")  # pause: an event with the position
    page.wait_for_function("() => window.reelrank.telemetry.queue.some(e => e.type === 'pause')")
    page.evaluate("() => window.reelrank.telemetry.flush()")
    page.wait_for_function("() => window.reelrank.telemetry.queue.length === 0")
    # another browser (no saved position), or this one with its storage wiped
    page.evaluate("(id) => localStorage.removeItem('reelrank.resume.' + id)", video_id)
    page.goto("/")
    page.goto(f"/#/watch/{video_id}")
    page.wait_for_function(FIRST_FRAME)
    assert page.evaluate("() => window.reelrank.player.video.currentTime") >= 8.5


def test_queued_events_are_sent_when_the_page_is_hidden(page: Any, site: Site) -> None:
    sign_up(page, "webhidden")
    user_id = page.evaluate("() => window.reelrank.user.id")
    page.goto(f"/#/watch/{site.videos['open']}")
    page.wait_for_function(FIRST_FRAME)
    page.keyboard.press("k")
    page.wait_for_function("() => window.reelrank.telemetry.queue.some(e => e.type === 'pause')")
    hidden = page.evaluate(
        """() => {
          const queued = window.reelrank.telemetry.queue.map((e) => e.event_id);
          Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
          document.dispatchEvent(new Event("visibilitychange"));
          return {queued, left: window.reelrank.telemetry.queue.length};
        }"""
    )
    assert hidden["queued"] and hidden["left"] == 0, hidden
    wait_until(
        lambda: (
            set(hidden["queued"])
            <= {row.event_id for row in stored_events(site.database_url, user_id)}
        ),
        10,
        "the events flushed on hide",
    )


def test_comment_reply_rating_and_playlist_from_the_watch_page(page: Any, site: Site) -> None:
    sign_up(page, "websocial")
    page.goto(f"/#/watch/{site.videos['open']}")
    comments = page.get_by_role("region", name="Comments")
    comments.get_by_label("Add a comment").fill("First!")
    comments.get_by_role("button", name="Comment", exact=True).click()
    thread = comments.locator(".comment", has_text="First!")
    thread.get_by_label("Reply").fill("A reply")
    thread.get_by_role("button", name="Reply", exact=True).click()
    thread.locator(".replies").get_by_text("A reply").wait_for()

    page.get_by_label("Your rating").select_option("4")
    page.get_by_text("4.0 ★ (1)").wait_for()

    page.once("dialog", lambda dialog: dialog.accept("Later"))
    page.get_by_label("Add to playlist").select_option("new")
    page.get_by_text("Added.").wait_for()
    screenshot(page, "watch-social")

    page.reload()
    comments = page.get_by_role("region", name="Comments")
    comments.locator(".comment", has_text="First!").locator(".replies").get_by_text(
        "A reply"
    ).wait_for()
    follow = page.locator(".channel-line").get_by_role("button", name="Follow")
    follow.click()
    page.locator(".channel-line").get_by_text("1 follower", exact=True).wait_for()
    page.goto("/#/account")
    page.get_by_role("region", name="Playlists").get_by_text("Later (1 videos)").wait_for()
    page.get_by_role("region", name="Followed channels").get_by_role("link").first.wait_for()
    screenshot(page, "account")


def test_a_premium_video_tells_a_free_viewer_why_it_does_not_play(page: Any, site: Site) -> None:
    page.goto(f"/#/watch/{site.videos['premium']}")
    page.get_by_role("alert").get_by_text("premium").wait_for()
    sign_up(page, "webfree")
    page.goto(f"/#/watch/{site.videos['premium']}")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "premium" in alert.text_content().lower()
    screenshot(page, "watch-premium-refused")


def test_search_tolerates_typos_and_filters_by_duration(page: Any, site: Site) -> None:
    page.goto("/#/search?q=opne")
    results = page.locator("main .grid")
    results.get_by_role("link", name="Open").wait_for()
    filters = page.get_by_role("form", name="Filters")
    filters.get_by_label("Duration").select_option("long")
    filters.get_by_role("button", name="Apply").click()
    page.wait_for_url("**duration=long*")
    results.get_by_text("Nothing matches").wait_for()
    assert results.get_by_role("link").count() == 0
    filters = page.get_by_role("form", name="Filters")
    filters.get_by_label("Duration").select_option("short")
    filters.get_by_role("button", name="Apply").click()
    page.wait_for_url("**duration=short*")
    page.locator("main .grid").get_by_role("link", name="Open").wait_for()
    screenshot(page, "search-filtered")


def test_results_follow_the_typing_and_suggestions_tolerate_typos(page: Any, site: Site) -> None:
    page.goto("/#/search?duration=short")
    search = page.get_by_label("Search videos")
    search.press_sequentially("opn", delay=60)
    # no Enter: the results page follows what is typed, keeping its filters
    page.wait_for_url("**q=opn*")
    assert "duration=short" in page.url
    history = page.evaluate("() => history.length")
    search.press_sequentially("e", delay=60)
    page.wait_for_url("**q=opne*")
    assert page.evaluate("() => history.length") == history, "no history entry per keystroke"
    # a misspelling starts no title, yet the suggestions offer the title it means
    page.get_by_role("option", name="Open").wait_for()
    page.locator("main .grid").get_by_role("link", name="Open").first.wait_for()
    assert search.input_value() == "opne"


def test_home_loads_more_videos_as_the_viewer_scrolls(page: Any, site: Site) -> None:
    with session_scope(site.database_url) as session:
        fillers = [Video(title=f"Filler {i}", status=VideoStatus.READY) for i in range(40)]
        session.add_all(fillers)
        session.flush()
        filler_ids = [video.id for video in fillers]
    try:
        page.set_viewport_size({"width": 1280, "height": 500})
        page.goto("/")
        cards = page.get_by_role("region", name="Trending").locator("a.card")
        cards.first.wait_for()
        page.wait_for_timeout(500)
        first_page = cards.count()
        assert first_page == 24, first_page
        for _ in range(3):
            page.mouse.wheel(0, 20_000)
            page.wait_for_timeout(300)
        listed = httpx.get(f"{site.url}/videos", params={"limit": 1}).json()["total"]
        assert listed >= 42
        wait_until(lambda: cards.count() == listed, 10, f"all {listed} videos after scrolling")
        ids = [card.get_attribute("data-video-id") for card in cards.all()]
        assert len(set(ids)) == listed
    finally:
        with session_scope(site.database_url) as session:
            session.execute(delete(Video).where(Video.id.in_(filler_ids)))


def test_events_refused_for_a_stale_access_token_are_sent_after_a_refresh(
    page: Any, site: Site
) -> None:
    sign_up(page, "webstale")
    user_id = page.evaluate("() => window.reelrank.user.id")
    event_id = page.evaluate(
        """async (videoId) => {
          const key = "reelrank.tokens";
          const tokens = JSON.parse(localStorage.getItem(key));
          localStorage.setItem(key, JSON.stringify({...tokens, access_token: "stale"}));
          const telemetry = window.reelrank.telemetry;
          telemetry.track("click", videoId);
          const id = telemetry.queue[telemetry.queue.length - 1].event_id;
          await telemetry.flush();
          if (!telemetry.queue.some((e) => e.event_id === id)) return null;
          await telemetry.flush();
          return id;
        }""",
        site.videos["open"],
    )
    assert event_id is not None, "the refused batch was not queued again"
    fresh = page.evaluate("() => JSON.parse(localStorage.getItem('reelrank.tokens')).access_token")
    assert fresh != "stale"
    wait_until(
        lambda: event_id in {row.event_id for row in stored_events(site.database_url, user_id)},
        10,
        "the event sent again",
    )
