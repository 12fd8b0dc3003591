"""The synthetic test clip: deterministic, moving, frame-coded, with or without a tone."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import av
import numpy as np
import pytest

from media.encode.testpattern import make_test_clip, read_frame_number
from media.errors import MediaError


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_clip_is_deterministic_h264_aac_mp4(tmp_path: Path) -> None:
    first = make_test_clip(tmp_path / "a.mp4", seconds=1)
    second = make_test_clip(tmp_path / "b.mp4", seconds=1)
    assert _digest(first) == _digest(second)
    with av.open(str(first)) as container:
        assert container.format.name.startswith("mov,mp4")
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert (video.codec_context.width, video.codec_context.height) == (640, 360)
        images = [f.to_ndarray(format="rgb24") for f in container.decode(video)]
    assert [read_frame_number(image) for image in images] == list(range(25))
    # it moves: consecutive frames differ
    assert all(
        np.abs(a.astype(int) - b.astype(int)).mean() > 1 for a, b in itertools.pairwise(images)
    )
    assert not any(tmp_path.glob(".*.tmp")), "no temporary file is left behind"


def test_clip_without_audio_and_custom_size(tmp_path: Path) -> None:
    clip = make_test_clip(
        tmp_path / "silent.mp4", seconds=0.4, width=320, height=240, fps=10, audio=False
    )
    with av.open(str(clip)) as container:
        assert not container.streams.audio
        frames = list(container.decode(video=0))
    assert len(frames) == 4
    assert (frames[0].width, frames[0].height) == (320, 240)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seconds": 0}, "seconds > 0 and fps > 0"),
        ({"width": 641}, "even dimensions of at least 32"),
        ({"rotation": 45}, "rotation must be a multiple of 90 degrees"),
    ],
)
def test_bad_clip_arguments_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        make_test_clip(tmp_path / "bad.mp4", **kwargs)
    assert not (tmp_path / "bad.mp4").exists()
