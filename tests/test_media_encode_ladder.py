"""The bitrate ladder (which rungs, what sizes) and GOP-aligned chunk planning."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from media.encode.chunks import plan_chunks, plan_progressive_chunks
from media.encode.ladder import GOP_SECONDS, LADDER, ladder_for, output_size
from media.errors import MediaError


def _names(width: int, height: int) -> list[str]:
    return [r.name for r in ladder_for(width, height)]


def test_ladder_is_lowest_first_with_the_agreed_bitrates() -> None:
    assert [(r.name, r.height, r.video_bitrate) for r in LADDER] == [
        ("240p", 240, 400_000),
        ("360p", 360, 800_000),
        ("720p", 720, 2_500_000),
        ("1080p", 1080, 5_000_000),
        ("2160p", 2160, 15_000_000),
    ]
    top = LADDER[-1]
    assert (top.max_video_bitrate, top.buffer_size) == (22_500_000, 30_000_000)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((3840, 2160), ["240p", "360p", "720p", "1080p", "2160p"]),
        ((1920, 1080), ["240p", "360p", "720p", "1080p"]),
        ((1280, 720), ["240p", "360p", "720p"]),
        ((1080, 1920), ["240p", "360p", "720p", "1080p"]),  # portrait: the shorter side counts
        ((854, 480), ["240p", "360p"]),
        ((176, 144), ["240p"]),  # smaller than every rung: the lowest, at the source size
    ],
)
def test_only_rungs_at_or_below_the_source(size: tuple[int, int], expected: list[str]) -> None:
    assert _names(*size) == expected


def test_rung_sizes_keep_the_aspect_and_are_even() -> None:
    sizes = {r.name: r.size_for(1080, 1920) for r in ladder_for(1080, 1920)}
    assert sizes == {
        "240p": (240, 426),
        "360p": (360, 640),
        "720p": (720, 1280),
        "1080p": (1080, 1920),
    }
    assert ladder_for(176, 144)[0].size_for(176, 144) == (176, 144)
    assert output_size(641, 361, 240) == (426, 240)
    assert output_size(1920, 800, 240) == (576, 240)  # 2.4:1 scope


@pytest.mark.parametrize(
    ("size", "target", "expected"),
    [
        ((1280, 720), 360, (640, 360)),
        ((1920, 1080), 720, (1280, 720)),
        ((720, 1280), 360, (360, 640)),
        ((640, 360), 720, (640, 360)),
        ((853, 480), 360, (640, 360)),
        ((641, 361), 1080, (640, 360)),
    ],
)
def test_output_size(size: tuple[int, int], target: int, expected: tuple[int, int]) -> None:
    assert output_size(*size, target) == expected


def test_other_codecs_and_bad_sizes() -> None:
    hevc = ladder_for(1280, 720, codec="hevc")
    assert {(r.codec, r.encoder) for r in hevc} == {("hevc", "libx265")}
    assert ladder_for(640, 360, codec="av1")[0].encoder == "libsvtav1"
    with pytest.raises(MediaError, match="too small for any rung"):
        ladder_for(1, 720)


def test_chunks_are_whole_gops_and_cover_the_video() -> None:
    chunks = plan_chunks(95.0, Fraction(30000, 1001), 30)
    assert [c.index for c in chunks] == [0, 1, 2]
    assert chunks[0].start_s is None and chunks[-1].end_s is None
    fps = Fraction(30000, 1001)
    gop = round(fps * Fraction(GOP_SECONDS))
    for previous, chunk in itertools.pairwise(chunks):
        assert previous.end_s == chunk.start_s
        frame = chunk.start_s * fps
        assert frame == pytest.approx(round(frame), abs=1e-6)
        assert round(frame) % gop == 0
    # 31 s chunks round to 16 GOPs (32 s); a short tail joins the last chunk
    assert [c.start_s for c in plan_chunks(65.0, 25, 31)] == [None, 32.0]
    assert plan_chunks(40.0, 25, 30) == plan_chunks(40.0, 25, None)
    assert len(plan_chunks(40.0, 25, None)) == 1


def test_chunk_planning_rejects_nonsense() -> None:
    with pytest.raises(MediaError, match="cannot chunk a video of 0"):
        plan_chunks(0, 25, 30)
    with pytest.raises(MediaError, match="chunk length must be positive"):
        plan_chunks(10, 25, -2)


def test_progressive_chunks_start_small_and_sit_on_segment_boundaries() -> None:
    def spans(chunks: list) -> list[tuple[float | None, float | None]]:
        return [(c.start_s, c.end_s) for c in chunks]

    # 1, 1, 2, 4 segments of 6 s, then capped at 30 s (5 segments)
    assert spans(plan_progressive_chunks(120, 30, 6.0, 30)) == [
        (None, 6.0),
        (6.0, 12.0),
        (12.0, 24.0),
        (24.0, 48.0),
        (48.0, 78.0),
        (78.0, 108.0),
        (108.0, None),
    ]
    # 5 s segments on a 2 s GOP grid are cut at the first GOP start on or after 5k s
    assert spans(plan_progressive_chunks(60, 25, 5.0, 30)) == [
        (None, 6.0),
        (6.0, 10.0),
        (10.0, 20.0),
        (20.0, 40.0),
        (40.0, None),
    ]
    fps = Fraction(30000, 1001)
    for chunk in plan_progressive_chunks(60, fps, 6.0, 30)[1:]:
        frame = chunk.start_s * fps
        assert frame == pytest.approx(round(frame), abs=1e-6) and round(frame) % 60 == 0
    # a tail under one GOP joins the last chunk; short videos and no cap are one chunk
    assert spans(plan_progressive_chunks(13.0, 25, 6.0, 30)) == [(None, 6.0), (6.0, None)]
    assert spans(plan_progressive_chunks(7.0, 25, 6.0, 30)) == [(None, None)]
    assert spans(plan_progressive_chunks(60, 25, 6.0, None)) == [(None, None)]
    with pytest.raises(MediaError, match="segment length must be positive"):
        plan_progressive_chunks(10, 25, 0, 30)
    with pytest.raises(MediaError, match="cannot chunk a video of 0"):
        plan_progressive_chunks(0, 25, 6.0, 30)
