"""Sample frames from a video with PyAV: about one per second, or the keyframes, downscaled.

Frames are streamed: a demux-only pass indexes the keyframes, then each sample is reached by
seeking to the keyframe before it (when that skips work) or by decoding forward, so no more
than one decoded frame is held at a time besides the samples themselves.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from media.errors import MediaError
from media.ingest.probe import open_media

#: Longest side, in pixels, of a sampled frame (aspect ratio kept).
WORKING_SIDE = 256
#: Most samples taken from one video; long videos are sampled more sparsely.
MAX_SAMPLES = 600
#: Tolerance when comparing a frame's time with a target time (seconds).
_EPS = 1e-3


@dataclass(frozen=True)
class SampledFrame:
    """One sampled picture: its time from the start of the video and its upright RGB pixels."""

    time_s: float
    image: np.ndarray  # (height, width, 3) uint8 RGB, display rotation applied


def working_size(width: int, height: int, max_side: int = WORKING_SIDE) -> tuple[int, int]:
    """``(width, height)`` scaled so the longer side is at most ``max_side``; both even, >= 2."""
    if width <= 0 or height <= 0:
        raise MediaError(f"a frame needs a positive size, got {width}x{height}")
    if max_side < 2:
        raise MediaError(f"the working size must be at least 2 pixels, got {max_side}")
    scale = min(1.0, max_side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def sample_frames(
    path: Path,
    fps: float = 1.0,
    max_side: int = WORKING_SIDE,
    max_samples: int = MAX_SAMPLES,
) -> list[SampledFrame]:
    """About ``fps`` frames per second of ``path`` (the first frame at or after each target time).

    Videos longer than ``max_samples / fps`` seconds are sampled evenly with ``max_samples``
    frames. Raises ``MediaError`` for a file that is not a decodable video.
    """
    if not fps > 0:
        raise MediaError(f"the sampling rate must be a positive number of frames/s, got {fps}")
    if max_samples < 1:
        raise MediaError(f"max_samples must be at least 1, got {max_samples}")
    path = Path(path)
    with open_media(path) as container:
        stream = _video_stream(container, path)
        start, keyframes, duration = _index(container, stream, path)
        count = max(1, min(max_samples, int(duration * fps + 1 - _EPS)))
        step = duration / count if duration * fps > max_samples else 1.0 / fps
        targets = [i * step for i in range(count)]
        return _decode_at(container, stream, path, start, keyframes, targets, max_side)


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.VideoStream:
    """The first video stream, set up for threaded decoding."""
    if not container.streams.video:
        raise MediaError(f"{path}: has no video stream to sample frames from")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _start_time(stream: av.video.VideoStream) -> float:
    """Seconds of the stream's first timestamp (0 when unknown)."""
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _index(
    container: av.container.InputContainer, stream: av.video.VideoStream, path: Path
) -> tuple[float, list[tuple[float, int]], float]:
    """Start time, sorted ``(time from start, pts)`` of the keyframes, and the duration.

    Reads packets only (no decoding), then rewinds.
    """
    start = _start_time(stream)
    keyframes: list[tuple[float, int]] = []
    last = 0.0
    try:
        for packet in container.demux(stream):
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is None or packet.size == 0:
                continue
            t = float(stamp * packet.time_base) - start
            last = max(last, t + float((packet.duration or 0) * packet.time_base))
            if packet.is_keyframe:
                keyframes.append((t, stamp))
        container.seek(0, stream=stream, backward=True, any_frame=False)
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: the video stream cannot be read ({exc})") from exc
    if not keyframes:
        raise MediaError(f"{path}: the video stream has no keyframes, nothing can be decoded")
    return start, sorted(keyframes), last


def _decode(
    container: av.container.InputContainer, stream: av.video.VideoStream, path: Path
) -> Iterator[av.VideoFrame]:
    """Decoded frames of ``stream`` from the current position; decode errors as ``MediaError``."""
    try:
        yield from container.decode(stream)
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: the video stream cannot be decoded ({exc})") from exc


def _decode_at(
    container: av.container.InputContainer,
    stream: av.video.VideoStream,
    path: Path,
    start: float,
    keyframes: list[tuple[float, int]],
    targets: list[float],
    max_side: int,
) -> list[SampledFrame]:
    """The first frame at or after each target time.

    Seeks to the keyframe before a target only when that keyframe lies ahead of the last
    decoded frame (so seeking skips work); otherwise decodes forward.
    """
    times = [t for t, _ in keyframes]
    samples: list[SampledFrame] = []
    frames: Iterator[av.VideoFrame] | None = None
    position = -1.0  # time of the last decoded frame
    last: av.VideoFrame | None = None
    for target in targets:
        key_time, key_pts = keyframes[max(0, bisect.bisect_right(times, target + _EPS) - 1)]
        if frames is None or key_time > position + _EPS:
            try:
                container.seek(key_pts, stream=stream, backward=True, any_frame=False)
            except av.FFmpegError as exc:
                raise MediaError(f"{path}: cannot seek to {key_time:.2f} s ({exc})") from exc
            frames = _decode(container, stream, path)
            position, last = -1.0, None
        if last is not None and position >= target - _EPS:
            samples.append(_sample(last, start, max_side))  # one frame spans several targets
            continue
        for frame in frames:
            position, last = _time(frame, start), frame
            if position >= target - _EPS:
                samples.append(_sample(frame, start, max_side))
                break
        else:
            break  # the stream ended before this target
    if not samples:
        raise MediaError(f"{path}: the video stream has no decodable frames")
    return samples


def _time(frame: av.VideoFrame, start: float) -> float:
    """Seconds of ``frame`` from the start of the stream."""
    return (float(frame.time) if frame.time is not None else 0.0) - start


def _sample(frame: av.VideoFrame, start: float, max_side: int) -> SampledFrame:
    """``frame`` downscaled to the working size, as upright RGB."""
    width, height = working_size(frame.width, frame.height, max_side)
    image: np.ndarray = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
    rotation = int(frame.rotation or 0) % 360
    if rotation:
        image = np.ascontiguousarray(np.rot90(image, k=rotation // 90))
    return SampledFrame(time_s=round(_time(frame, start), 6), image=image)
