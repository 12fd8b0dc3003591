"""Split a long video into GOP-aligned chunks that Ray tasks encode in parallel."""

from __future__ import annotations

import math
from fractions import Fraction

from pydantic import BaseModel, ConfigDict

from media.encode.ladder import GOP_SECONDS
from media.errors import MediaError


class Chunk(BaseModel):
    """Seconds ``start_s`` to ``end_s`` (None: to the end) of a video; starts on a keyframe."""

    model_config = ConfigDict(frozen=True)

    index: int
    start_s: float | None
    end_s: float | None


def plan_chunks(
    duration_s: float, fps: Fraction | float, chunk_seconds: float | None
) -> list[Chunk]:
    """Chunks of about ``chunk_seconds`` (rounded to whole GOPs) covering ``duration_s``.

    Every boundary is a whole number of GOPs (``GOP_SECONDS``) at ``fps``, so each chunk starts
    with the IDR the unchunked encode would have there. A video shorter than 1.5 chunks, or
    ``chunk_seconds`` None or 0, is one chunk; a short remainder joins the last chunk.
    """
    if duration_s <= 0:
        raise MediaError(f"cannot chunk a video of {duration_s} s")
    if not chunk_seconds:
        return [Chunk(index=0, start_s=None, end_s=None)]
    if chunk_seconds < 0:
        raise MediaError(f"chunk length must be positive, got {chunk_seconds} s")
    fps = Fraction(fps).limit_denominator(1001)
    gop = max(1, round(fps * Fraction(GOP_SECONDS)))
    chunk_frames = gop * max(1, round(chunk_seconds / GOP_SECONDS))
    total = math.floor(duration_s * fps)
    count = max(1, round(total / chunk_frames)) if total >= 1.5 * chunk_frames else 1
    if count == 1:
        return [Chunk(index=0, start_s=None, end_s=None)]
    edges = [float(Fraction(i * chunk_frames) / fps) for i in range(count)]
    return [
        Chunk(index=i, start_s=start if i else None, end_s=edges[i + 1] if i + 1 < count else None)
        for i, start in enumerate(edges)
    ]


def plan_progressive_chunks(
    duration_s: float,
    fps: Fraction | float,
    segment_seconds: float,
    chunk_seconds: float | None,
) -> list[Chunk]:
    """Chunks on HLS segment boundaries that grow 1, 1, 2, 4, ... segments, up to about
    ``chunk_seconds``, so the first segments of a rung are ready within seconds.

    Segment boundaries are the first GOP start (``GOP_SECONDS`` grid) on or after each multiple
    of ``segment_seconds``, exactly where the packager cuts segments, so every chunk packages
    into whole segments of the rung. ``chunk_seconds`` None or 0 caps nothing: one chunk.
    """
    if duration_s <= 0:
        raise MediaError(f"cannot chunk a video of {duration_s} s")
    if segment_seconds <= 0:
        raise MediaError(f"segment length must be positive, got {segment_seconds} s")
    if not chunk_seconds:
        return [Chunk(index=0, start_s=None, end_s=None)]
    if chunk_seconds < 0:
        raise MediaError(f"chunk length must be positive, got {chunk_seconds} s")
    fps = Fraction(fps).limit_denominator(1001)
    gop = max(1, round(fps * Fraction(GOP_SECONDS)))
    total = math.floor(duration_s * fps)
    segment = Fraction(segment_seconds).limit_denominator(1_000_000)
    bounds: list[int] = []
    k = 1
    while True:
        frame = math.ceil(k * segment * fps / gop) * gop
        if frame >= total:
            break
        if not bounds or frame > bounds[-1]:
            bounds.append(frame)
        k += 1
    cap = max(1, round(chunk_seconds / segment_seconds))
    edges, size, position = [0], 1, 0
    while position + size <= len(bounds):
        position += size
        edges.append(bounds[position - 1])
        size = min(cap, size * 2) if len(edges) > 2 else 1
    if len(edges) > 1 and total - edges[-1] < gop:
        edges.pop()  # a sliver of less than a GOP joins the last chunk
    count = len(edges)
    return [
        Chunk(
            index=i,
            start_s=float(Fraction(start) / fps) if i else None,
            end_s=float(Fraction(edges[i + 1]) / fps) if i + 1 < count else None,
        )
        for i, start in enumerate(edges)
    ]
