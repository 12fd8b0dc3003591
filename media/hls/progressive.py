"""The growing rung: chunks appended to an EVENT playlist as they are encoded, then made VOD."""

from __future__ import annotations

import math
import shutil
import uuid
from fractions import Fraction
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from media.errors import MediaError
from media.hls.isobmff import shift_fragments
from media.hls.playlists import target_duration
from media.hls.segments import (
    IFRAME_PLAYLIST,
    INIT_SEGMENT,
    LIVE_IFRAME_PLAYLIST,
    LIVE_PLAYLIST,
    MEDIA_PLAYLIST,
    RUNG_NAME,
    RungPlaylist,
    SegmentInfo,
    VideoFacts,
    check_input,
    cut_segments,
    fragment_video,
    rung_playlist,
    write_playlists,
)


class ProgressiveRung(BaseModel):
    """A rung published chunk by chunk as an EVENT playlist while the rest is encoded.

    Its segments are written once and never change; when the last chunk is in, ``finish_rung``
    writes the VOD playlists over the same segments. Serialisable, so a job can resume it.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    folder: Path
    codecs: str
    width: int
    height: int
    frame_rate: float
    target: int = Field(description="#EXT-X-TARGETDURATION, fixed for the EVENT playlist.")
    chunks: int = 0
    fragments: int = 0
    next_decode_time: int = 0
    duration_s: float = 0.0
    segments: list[SegmentInfo] = []

    def _video(self) -> VideoFacts:
        return VideoFacts(self.codecs, self.width, self.height, Fraction(self.frame_rate))

    def live(self, declared_peak: int = 0) -> RungPlaylist:
        """The rung as its EVENT playlists, with BANDWIDTH at least ``declared_peak``.

        The peak measured so far can grow with later segments, so the master declares the
        larger of it and ``declared_peak`` (the encoder's cap) until the rung is complete.
        """
        rung = rung_playlist(
            self.folder,
            self.name,
            self._video(),
            self.segments,
            self.duration_s,
            media=LIVE_PLAYLIST,
            iframes=LIVE_IFRAME_PLAYLIST,
        )
        return rung.model_copy(update={"peak_bitrate": max(rung.peak_bitrate, declared_peak)})


def append_chunk(
    progress: ProgressiveRung | None,
    encoded: Path,
    out_dir: Path,
    name: str,
    offset_s: float,
    segment_seconds: float = 6.0,
) -> ProgressiveRung:
    """Package the next chunk of a rung (``encoded``, starting ``offset_s`` into the video)
    and append its segments to ``out_dir/<name>/`` and its EVENT playlists.

    The chunk must start on a segment boundary and follow the chunks already appended; its
    fragments are moved onto the rung's continuous timeline (``tfdt``) and fragment numbering
    (``mfhd``). A first chunk (``progress`` None) replaces whatever the rung folder held.
    Raises ``MediaError`` if the chunk's init segment differs from the rung's (another codec
    configuration cannot join the same timeline).
    """
    encoded, out_dir = Path(encoded), Path(out_dir)
    check_input(encoded, segment_seconds)
    if not RUNG_NAME.match(name):
        raise MediaError(f"rung name {name!r} must be 1-32 letters, digits, '_' or '-'")
    folder = out_dir / name
    staging = out_dir / f".{name}.chunk-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        fragmented = staging / "fragmented.mp4"
        video = fragment_video(encoded, fragmented)
        first_number = len(progress.segments) if progress else 0
        cut = cut_segments(fragmented, staging, segment_seconds, offset_s, first_number)
        if progress is None:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            (folder / INIT_SEGMENT).write_bytes(cut.init)
            target = max(
                target_duration([s.duration_s for s in cut.segments]),
                math.floor(segment_seconds + 0.5),
            )
            progress = ProgressiveRung(
                name=name,
                folder=folder,
                codecs=video.codecs,
                width=video.width,
                height=video.height,
                frame_rate=float(video.frame_rate),
                target=target,
                next_decode_time=cut.first_decode_time,
            )
        elif _without_bitrates((folder / INIT_SEGMENT).read_bytes()) != _without_bitrates(cut.init):
            raise MediaError(
                f"{encoded}: its init segment differs from rung {name}'s; it cannot be appended"
            )
        expected = progress.duration_s
        if abs(offset_s - expected) > 0.5 / progress.frame_rate:
            raise MediaError(
                f"{encoded}: chunk starts at {offset_s:.3f} s but rung {name} ends at "
                f"{expected:.3f} s"
            )
        shift = progress.next_decode_time - cut.first_decode_time
        for segment in cut.segments:
            data = (staging / segment.uri).read_bytes()
            tmp = folder / f".{segment.uri}.tmp"
            tmp.write_bytes(shift_fragments(data, shift, progress.fragments))
            tmp.replace(folder / segment.uri)
        progress = progress.model_copy(
            update={
                "chunks": progress.chunks + 1,
                "fragments": progress.fragments + cut.fragments,
                "next_decode_time": cut.end_decode_time + shift,
                "duration_s": round(progress.duration_s + cut.duration_s, 6),
                "segments": [*progress.segments, *cut.segments],
            }
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_playlists(
        folder,
        progress.segments,
        media=LIVE_PLAYLIST,
        iframes=LIVE_IFRAME_PLAYLIST,
        playlist_type="EVENT",
        endlist=False,
        target=progress.target,
    )
    return progress


def _without_bitrates(init: bytes) -> bytes:
    """``init`` with the payload of its ``btrt`` boxes zeroed: the bit rates an encoder measured
    on one chunk, informative only, differ between chunks of one rung."""
    out = bytearray(init)
    start = 0
    while (found := init.find(b"btrt", start)) >= 4:
        size = int.from_bytes(init[found - 4 : found], "big")
        if size == 20:  # size, type, bufferSizeDB, maxBitrate, avgBitrate
            out[found + 4 : found + 16] = bytes(12)
        start = found + 4
    return bytes(out)


def finish_rung(progress: ProgressiveRung) -> RungPlaylist:
    """Complete a progressive rung: end its EVENT playlists and write its VOD playlists."""
    if not progress.segments:
        raise MediaError(f"rung {progress.name} has no segments to finish")
    write_playlists(
        progress.folder,
        progress.segments,
        media=LIVE_PLAYLIST,
        iframes=LIVE_IFRAME_PLAYLIST,
        playlist_type="EVENT",
        target=progress.target,
    )
    write_playlists(
        progress.folder, progress.segments, media=MEDIA_PLAYLIST, iframes=IFRAME_PLAYLIST
    )
    return rung_playlist(
        progress.folder, progress.name, progress._video(), progress.segments, progress.duration_s
    )
