"""Poster thumbnails: the sharpest well-exposed frame of a video, and frames at given times."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from media.errors import MediaError
from media.ingest.probe import open_media, probe

log = logging.getLogger(__name__)

#: Mean luma (0-255) below which a frame counts as black, above which as blank white.
DARK_LUMA, BRIGHT_LUMA = 24.0, 235.0
#: Luma standard deviation below which a frame is a flat card (a fade, a solid colour).
FLAT_CONTRAST = 10.0
_CANDIDATES = 16
_SCORE_WIDTH = 320
_SEEK_GAP_S = 4.0


@dataclass(frozen=True)
class FrameScore:
    """How well a frame would do as a poster."""

    brightness: float
    contrast: float
    sharpness: float

    @property
    def usable(self) -> bool:
        """Neither black, nor blank white, nor flat."""
        return DARK_LUMA <= self.brightness <= BRIGHT_LUMA and self.contrast >= FLAT_CONTRAST


def score_frame(image: np.ndarray) -> FrameScore:
    """Brightness (mean luma), contrast (luma deviation) and sharpness (variance of the
    Laplacian) of an RGB image, measured at a fixed 320-pixel width."""
    height, width = image.shape[:2]
    # INTER_LINEAR is what this call has always used: INTER_AREA used to be passed as ``dst``,
    # where OpenCV ignores it.
    small = cv2.resize(
        image,
        (_SCORE_WIDTH, max(2, round(height * _SCORE_WIDTH / width))),
        interpolation=cv2.INTER_LINEAR,
    )
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return FrameScore(
        brightness=float(gray.mean()),
        contrast=float(gray.std()),
        sharpness=float(cv2.Laplacian(gray, cv2.CV_64F).var()),
    )


def frames_at(source: Path, times: list[float]) -> list[tuple[float, np.ndarray]]:
    """Upright RGB frames nearest each of ``times`` (seconds; sorted, past-the-end dropped).

    Decodes forward, seeking to the keyframe before a time when that skips more than a few
    seconds; holds only the frames it returns.
    """
    source = Path(source)
    rotation = probe(source).rotation
    wanted = sorted(t for t in times if t >= 0)
    found: list[tuple[float, np.ndarray]] = []
    position = 0.0
    with open_media(source) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = 1 / float(stream.average_rate or 25)
        frames = iter(container.decode(stream))
        try:
            for target in wanted:
                if stream.time_base and target - position > _SEEK_GAP_S:
                    container.seek(int(target / stream.time_base), stream=stream, backward=True)
                    frames = iter(container.decode(stream))
                for frame in frames:
                    position = frame.time if frame.time is not None else position + step
                    if position + step / 2 > target:
                        found.append((target, _upright(frame.to_ndarray(format="rgb24"), rotation)))
                        break
                else:
                    break
        except av.FFmpegError as exc:
            raise MediaError(
                f"{source}: cannot decode frames near {position:.2f} s ({exc})"
            ) from exc
    return found


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """``image`` turned by its display rotation (degrees counter-clockwise)."""
    if rotation % 360 == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=(rotation // 90) % 4))


def write_jpeg(path: Path, image: np.ndarray, quality: int = 90) -> Path:
    """Write an RGB image as a JPEG through a temporary sibling and an atomic rename."""
    ok, encoded = cv2.imencode(
        ".jpg",
        cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
        [
            cv2.IMWRITE_JPEG_QUALITY,
            quality,
        ],
    )
    if not ok:
        raise MediaError(f"{path}: cannot encode a {image.shape[1]}x{image.shape[0]} JPEG")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_bytes(encoded.tobytes())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def make_poster(source: Path, out: Path, width: int = 640) -> Path:
    """Write a JPEG poster of ``source`` at ``width`` pixels (never upscaled) to ``out``.

    Scores 16 frames spread over the video (skipping the first and last 5 %) and keeps the
    sharpest one that is neither black, blank nor flat; if none qualifies, the sharpest of the
    brightest ones.
    """
    source, out = Path(source), Path(out)
    if width < 16:
        raise MediaError(f"a poster needs a width of at least 16 pixels, got {width}")
    duration = probe(source).duration_s
    times = [duration * (0.05 + 0.9 * i / (_CANDIDATES - 1)) for i in range(_CANDIDATES)]
    candidates = frames_at(source, times)
    if not candidates:
        raise MediaError(f"{source}: no frame could be decoded for a poster")
    scored = [(score_frame(image), time, image) for time, image in candidates]
    usable = [c for c in scored if c[0].usable]
    if usable:
        score, time, image = max(usable, key=lambda c: c[0].sharpness)
    else:
        log.warning("%s: every candidate poster frame is dark, blank or flat", source)
        score, time, image = max(scored, key=lambda c: (c[0].brightness, c[0].sharpness))
    height, src_width = image.shape[:2]
    target = min(width, src_width)
    size = (target, max(2, round(height * target / src_width / 2) * 2))
    if size != (src_width, height):
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    log.info("poster of %s from %.2f s (sharpness %.0f)", source, time, score.sharpness)
    return write_jpeg(out, image)
