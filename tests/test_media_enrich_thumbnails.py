"""Poster thumbnails: a sharp, well-exposed frame, never a black or blurry one."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from media.encode.testpattern import draw_frame, read_frame_number
from media.enrich.thumbnails import frames_at, make_poster, score_frame
from media.errors import MediaError
from tests.test_media_hls_package import BIG_BUCK_BUNNY, encode_rung

_FPS = 25


def _black_blurry_sharp(path: Path) -> Path:
    """2 s black, 2 s heavily blurred pattern, 2 s sharp pattern (frame numbers drawn in)."""
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=_FPS, options={"crf": "18"})
        video.width, video.height, video.pix_fmt = 320, 180, "yuv420p"
        for index in range(6 * _FPS):
            image = draw_frame(index, 320, 180, _FPS)
            if index < 2 * _FPS:
                image = np.zeros_like(image)
            elif index < 4 * _FPS:
                image = cv2.GaussianBlur(image, (0, 0), 9)
            frame = av.VideoFrame.from_ndarray(image, "rgb24")
            frame.pts, frame.time_base = index, Fraction(1, _FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    return path


def _read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, f"{path} is not a readable image"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def test_poster_skips_black_and_blurry_frames(tmp_path: Path) -> None:
    source = _black_blurry_sharp(tmp_path / "clip.mp4")
    poster = make_poster(source, tmp_path / "out" / "poster.jpg", width=320)
    assert poster == tmp_path / "out" / "poster.jpg"
    image = _read_rgb(poster)
    assert image.shape == (180, 320, 3)
    assert read_frame_number(image) >= 4 * _FPS, "taken from the sharp third"
    black, blurred, sharp = (score_frame(f) for _, f in frames_at(source, [1.0, 3.0, 5.0]))
    assert not black.usable and blurred.usable and sharp.usable
    assert sharp.sharpness > 10 * blurred.sharpness


def test_frames_at_returns_the_frame_shown_at_each_time(tmp_path: Path) -> None:
    source = encode_rung(tmp_path / "clip.mp4", seconds=12, audio=False)
    frames = frames_at(source, [11.0, 0.0, 0.52, 6.0, 30.0])
    assert [t for t, _ in frames] == [0.0, 0.52, 6.0, 11.0]
    assert [read_frame_number(image) for _, image in frames] == [0, 13, 150, 275]


def test_poster_of_real_footage_is_scaled_and_well_exposed(tmp_path: Path) -> None:
    poster = make_poster(BIG_BUCK_BUNNY, tmp_path / "poster.jpg")
    image = _read_rgb(poster)
    assert image.shape == (360, 640, 3)
    assert score_frame(image).usable


def test_all_black_video_still_gets_a_poster_and_bad_input_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "black.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=_FPS)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        for index in range(_FPS):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), "rgb24")
            frame.pts, frame.time_base = index, Fraction(1, _FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    assert _read_rgb(make_poster(path, tmp_path / "p.jpg")).shape == (64, 64, 3)
    with pytest.raises(MediaError, match="no such media file"):
        make_poster(tmp_path / "missing.mp4", tmp_path / "p.jpg")
    with pytest.raises(MediaError, match="width of at least 16 pixels, got 4"):
        make_poster(path, tmp_path / "p.jpg", width=4)
