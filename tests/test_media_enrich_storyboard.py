"""Storyboards: a sprite sheet of timed tiles and a WebVTT index pointing at each tile."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import pytest

from media.encode.testpattern import read_frame_number
from media.enrich.storyboard import make_storyboard
from media.errors import MediaError
from media.ingest.probe import probe
from tests.test_media_hls_package import BIG_BUCK_BUNNY, encode_rung

_CUE = re.compile(r"(\S+) --> (\S+)\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)")


def test_sprite_tiles_and_cues_match_the_video(tmp_path: Path) -> None:
    source = encode_rung(tmp_path / "clip.mp4", seconds=7, size=(160, 90), audio=False)
    vtt = make_storyboard(source, tmp_path / "sb", interval_s=2, tile=(160, 90), columns=3)
    assert vtt == tmp_path / "sb" / "storyboard.vtt"
    text = vtt.read_text()
    assert text.startswith("WEBVTT\n\n")
    cues = _CUE.findall(text)
    assert [(c[0], c[1]) for c in cues] == [
        ("00:00:00.000", "00:00:02.000"),
        ("00:00:02.000", "00:00:04.000"),
        ("00:00:04.000", "00:00:06.000"),
        ("00:00:06.000", "00:00:07.000"),
    ]
    assert [c[2:] for c in cues] == [
        ("sprite.jpg", "0", "0", "160", "90"),
        ("sprite.jpg", "160", "0", "160", "90"),
        ("sprite.jpg", "320", "0", "160", "90"),
        ("sprite.jpg", "0", "90", "160", "90"),
    ]
    sprite = cv2.cvtColor(cv2.imread(str(tmp_path / "sb" / "sprite.jpg")), cv2.COLOR_BGR2RGB)
    assert sprite.shape == (180, 480, 3)
    numbers = []
    for *_, x, y, w, h in cues:
        tile = sprite[int(y) : int(y) + int(h), int(x) : int(x) + int(w)]
        numbers.append(read_frame_number(tile))
    assert numbers == [0, 50, 100, 150], "each tile shows the frame at its cue's start"


def test_default_ten_second_storyboard_of_real_footage(tmp_path: Path) -> None:
    vtt = make_storyboard(BIG_BUCK_BUNNY, tmp_path)
    end = f"00:00:0{probe(BIG_BUCK_BUNNY).duration_s:.3f}"
    assert _CUE.findall(vtt.read_text()) == [
        ("00:00:00.000", end, "sprite.jpg", "0", "0", "160", "90")
    ]
    assert cv2.imread(str(tmp_path / "sprite.jpg")).shape == (90, 160, 3)


def test_portrait_video_is_letterboxed_and_bad_settings_are_refused(tmp_path: Path) -> None:
    source = encode_rung(tmp_path / "tall.mp4", seconds=1, size=(90, 160), audio=False)
    make_storyboard(source, tmp_path / "sb", tile=(160, 90))
    sprite = cv2.imread(str(tmp_path / "sb" / "sprite.jpg"))
    assert sprite.shape == (90, 160, 3)
    assert sprite[:, :40].max() < 30 and sprite[:, -40:].max() < 30, "black side bars"
    with pytest.raises(MediaError, match="interval must be positive, got 0 s"):
        make_storyboard(source, tmp_path / "sb", interval_s=0)
    with pytest.raises(MediaError, match="tiles of at least 8x8"):
        make_storyboard(source, tmp_path / "sb", tile=(4, 4))
