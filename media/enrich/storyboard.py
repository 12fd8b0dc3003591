"""Storyboards: sprite sheets of evenly spaced thumbnails and a WebVTT index for scrub previews."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from media.enrich.thumbnails import frames_at, write_jpeg
from media.errors import MediaError
from media.hls.playlists import write_atomically
from media.ingest.probe import probe

SPRITE = "sprite.jpg"
INDEX = "storyboard.vtt"
#: JPEG's largest side is 65535 pixels; a sheet taller than this starts another sheet.
_MAX_SHEET_SIDE = 65_000


def _timestamp(seconds: float) -> str:
    """A WebVTT timestamp ``HH:MM:SS.mmm``."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def _fit(image: np.ndarray, tile: tuple[int, int]) -> np.ndarray:
    """``image`` scaled to fit ``tile`` (width, height), aspect kept, centred on black."""
    width, height = tile
    src_h, src_w = image.shape[:2]
    scale = min(width / src_w, height / src_h)
    size = (max(1, round(src_w * scale)), max(1, round(src_h * scale)))
    scaled = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = scaled
    return canvas


def make_storyboard(
    source: Path,
    out_dir: Path,
    interval_s: float = 10.0,
    tile: tuple[int, int] = (160, 90),
    columns: int = 10,
) -> Path:
    """Write ``out_dir/sprite.jpg`` and ``out_dir/storyboard.vtt``; return the WebVTT path.

    One tile per ``interval_s`` (the frame at the start of each interval), ``columns`` tiles a
    row; each cue covers its interval and points at its tile as ``sprite.jpg#xywh=x,y,w,h``.
    A video too long for one JPEG continues on ``sprite_2.jpg``, ``sprite_3.jpg``, ...
    """
    source, out_dir = Path(source), Path(out_dir)
    if not interval_s > 0:
        raise MediaError(f"the storyboard interval must be positive, got {interval_s} s")
    if columns < 1 or min(tile) < 8 or tile[0] * columns > _MAX_SHEET_SIDE:
        raise MediaError(
            f"a storyboard needs tiles of at least 8x8 and 1 to {_MAX_SHEET_SIDE // tile[0]} "
            f"columns, got {tile[0]}x{tile[1]} and {columns}"
        )
    duration = probe(source).duration_s
    starts = [i * interval_s for i in range(max(1, math.ceil(duration / interval_s - 1e-6)))]
    frames = frames_at(source, starts)
    if not frames:
        raise MediaError(f"{source}: no frame could be decoded for a storyboard")
    rows_per_sheet = _MAX_SHEET_SIDE // tile[1]
    per_sheet = rows_per_sheet * columns
    out_dir.mkdir(parents=True, exist_ok=True)
    cues = ["WEBVTT", ""]
    for sheet_number, first in enumerate(range(0, len(frames), per_sheet), start=1):
        chunk = frames[first : first + per_sheet]
        name = SPRITE if sheet_number == 1 else f"sprite_{sheet_number}.jpg"
        rows = math.ceil(len(chunk) / columns)
        width = tile[0] * min(columns, len(chunk))
        sheet = np.zeros((rows * tile[1], width, 3), dtype=np.uint8)
        for index, (start, image) in enumerate(chunk):
            x, y = index % columns * tile[0], index // columns * tile[1]
            sheet[y : y + tile[1], x : x + tile[0]] = _fit(image, tile)
            end = min(start + interval_s, duration)
            cues += [
                f"{_timestamp(start)} --> {_timestamp(end)}",
                f"{name}#xywh={x},{y},{tile[0]},{tile[1]}",
                "",
            ]
        write_jpeg(out_dir / name, sheet, quality=85)
    return write_atomically(out_dir / INDEX, "\n".join(cues))
