"""A deterministic synthetic test clip: moving bars, a frame-number code and a sine tone."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from media.errors import MediaError

#: Bits of the frame-number code drawn along the bottom of every frame.
CODE_BITS = 12
_SAMPLE_RATE = 48_000
_TONE_HZ = 440.0
_BARS = np.array(
    [
        [192, 192, 192],
        [192, 192, 0],
        [0, 192, 192],
        [0, 192, 0],
        [192, 0, 192],
        [192, 0, 0],
        [0, 0, 192],
    ],
    dtype=np.uint8,
)


def _code_geometry(width: int, height: int) -> tuple[int, int, int]:
    """Block size, left and top of the frame-number code for a frame of this size."""
    block = max(2, min(height // 12, width // (CODE_BITS + 2)))
    return block, block // 2, height - block - block // 2


def draw_frame(index: int, width: int, height: int, fps: int) -> np.ndarray:
    """The RGB image of frame ``index``: scrolling colour bars, a moving gradient and the code."""
    x = np.arange(width)
    bar = ((x + index * max(1, width // (2 * fps))) * len(_BARS) // width) % len(_BARS)
    image = np.repeat(_BARS[bar][np.newaxis, :, :], height, axis=0)
    lower = height * 2 // 3
    ramp = ((x[np.newaxis, :] + np.arange(lower, height)[:, np.newaxis] + 8 * index) % 256).astype(
        np.uint8
    )
    image[lower:] = ramp[:, :, np.newaxis]
    # a white box bouncing across the top third
    box = max(4, height // 8)
    span = max(1, width - box)
    left = abs((index * 7) % (2 * span) - span)
    image[box // 2 : box // 2 + box, left : left + box] = 255
    # frame-number code: CODE_BITS black/white blocks on a grey band
    block, x0, y0 = _code_geometry(width, height)
    image[y0 - block // 4 : y0 + block + block // 4, : x0 * 2 + block * CODE_BITS] = 128
    for bit in range(CODE_BITS):
        value = 255 if index >> (CODE_BITS - 1 - bit) & 1 else 0
        image[y0 : y0 + block, x0 + bit * block : x0 + (bit + 1) * block] = value
    return image


def read_frame_number(image: np.ndarray) -> int:
    """The frame number coded into an RGB ``image`` drawn by ``draw_frame`` (at any scale)."""
    height, width = image.shape[:2]
    block, x0, y0 = _code_geometry(width, height)
    luma = image.mean(axis=2)
    number = 0
    for bit in range(CODE_BITS):
        cx, cy = x0 + bit * block + block // 2, y0 + block // 2
        r = max(1, block // 4)
        number = number << 1 | int(luma[cy - r : cy + r, cx - r : cx + r].mean() > 128)
    return number


def make_test_clip(
    path: Path,
    seconds: float = 4,
    width: int = 640,
    height: int = 360,
    fps: int = 25,
    audio: bool = True,
    rotation: int = 0,
) -> Path:
    """Write a deterministic H.264 (+ AAC 440 Hz tone) MP4 test pattern to ``path``.

    Every frame carries its number as a binary code (see ``read_frame_number``). ``rotation``
    stores a display rotation (degrees counter-clockwise) in the container, as phones do.
    """
    if seconds <= 0 or fps <= 0:
        raise MediaError(f"a test clip needs seconds > 0 and fps > 0, got {seconds} s at {fps} fps")
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise MediaError(f"a test clip needs even dimensions of at least 32, got {width}x{height}")
    if rotation % 90:
        raise MediaError(f"rotation must be a multiple of 90 degrees, got {rotation}")
    frames = round(seconds * fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with av.open(str(tmp), "w", format="mp4") as container:
            video = container.add_stream(
                "libx264", rate=fps, options={"preset": "veryfast", "crf": "18"}
            )
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            if rotation % 360:
                video.set_display_rotation(rotation)
            tone = container.add_stream("aac", rate=_SAMPLE_RATE) if audio else None
            if tone is not None:
                tone.layout, tone.bit_rate = "stereo", 128_000
            written = 0
            for index in range(frames):
                frame = av.VideoFrame.from_ndarray(draw_frame(index, width, height, fps), "rgb24")
                frame.pts, frame.time_base = index, Fraction(1, fps)
                container.mux(video.encode(frame))
                if tone is not None:
                    until = round((index + 1) * _SAMPLE_RATE / fps)
                    container.mux(tone.encode(_tone_frame(written, until - written)))
                    written = until
            container.mux(video.encode(None))
            if tone is not None:
                container.mux(tone.encode(None))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _tone_frame(start: int, count: int) -> av.AudioFrame:
    """``count`` stereo samples of the tone, starting at sample ``start``."""
    t = np.arange(start, start + count) / _SAMPLE_RATE
    samples = (0.25 * np.sin(2 * np.pi * _TONE_HZ * t)).astype(np.float32)
    frame = av.AudioFrame.from_ndarray(np.stack([samples, samples]), format="fltp", layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = _SAMPLE_RATE, start, Fraction(1, _SAMPLE_RATE)
    return frame
