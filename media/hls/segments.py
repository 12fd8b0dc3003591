"""What every fMP4 HLS rung is cut from: names, bit rates, per-GOP fragments, segments, playlists.

Layout under a package folder: ``<rung>/{index.m3u8, iframes.m3u8, init.mp4, seg_NNNNN.m4s}``
(a growing rung also has ``live.m3u8`` and ``iframes_live.m3u8``),
``audio_<language>/{index.m3u8, init.mp4, seg_NNNNN.m4s}`` and ``master.m3u8``.
"""

from __future__ import annotations

import math
import re
import shutil
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
from pydantic import BaseModel, ConfigDict, Field

from media.errors import MediaError
from media.hls.codecs import video_codec_string
from media.hls.isobmff import Fragment, Sample, Track, parse_fragments, parse_init, scan_boxes
from media.hls.playlists import Segment, format_media_playlist, target_duration, write_atomically

MASTER_PLAYLIST = "master.m3u8"
MEDIA_PLAYLIST = "index.m3u8"
IFRAME_PLAYLIST = "iframes.m3u8"
LIVE_PLAYLIST = "live.m3u8"
LIVE_IFRAME_PLAYLIST = "iframes_live.m3u8"
INIT_SEGMENT = "init.mp4"
SEGMENT_NAME = "seg_{:05d}.m4s"
#: What a rung (or audio) folder may be called.
RUNG_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_CODEC_TAGS = {"h264": "avc1", "hevc": "hvc1", "av1": "av01"}


class RungPlaylist(BaseModel):
    """A packaged video rung: its playlists and what the master playlist says about it."""

    model_config = ConfigDict(frozen=True)

    name: str
    playlist: Path
    iframe_playlist: Path
    width: int
    height: int
    frame_rate: float
    codecs: str
    duration_s: float
    segment_starts_s: list[float]
    peak_bitrate: int
    average_bitrate: int
    iframe_peak_bitrate: int
    iframe_average_bitrate: int

    @property
    def segment_count(self) -> int:
        """How many media segments the rung has."""
        return len(self.segment_starts_s)


def peak_segment_bitrate(sizes: list[int], durations: list[float], target: float) -> int:
    """RFC 8216 peak segment bit rate: the highest bit rate of any run of consecutive segments
    whose total duration is 0.5 to 1.5 times the target duration (of single segments if no run
    qualifies), never below the average."""
    best = 0.0
    for start in range(len(sizes)):
        total_bytes, total_s = 0, 0.0
        for end in range(start, len(sizes)):
            total_bytes, total_s = total_bytes + sizes[end], total_s + durations[end]
            if total_s > 1.5 * target:
                break
            if total_s >= 0.5 * target:
                best = max(best, total_bytes * 8 / total_s)
    if best == 0.0:
        best = max((s * 8 / d for s, d in zip(sizes, durations, strict=True) if d > 0), default=0)
    return math.ceil(max(best, average_bitrate(sizes, durations)))


def average_bitrate(sizes: list[int], durations: list[float]) -> int:
    """Total bits over total seconds, rounded up (0 for an empty list)."""
    total_s = sum(durations)
    return math.ceil(sum(sizes) * 8 / total_s) if total_s > 0 else 0


def check_input(encoded: Path, segment_seconds: float) -> None:
    """``MediaError`` for a missing input or a non-positive segment length."""
    if not encoded.is_file():
        raise MediaError(f"{encoded}: no such encoded file to package")
    if not segment_seconds > 0:
        raise MediaError(f"segment length must be positive, got {segment_seconds} s")


def open_encoded(encoded: Path) -> av.container.InputContainer:
    """Open an encoded file, or ``MediaError`` saying it is not readable media."""
    try:
        return av.open(str(encoded))
    except av.FFmpegError as exc:
        raise MediaError(f"{encoded}: not a readable media file ({exc})") from exc


def replace_dir(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``, replacing (then deleting) an earlier folder there."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        final.rename(old)
    try:
        staging.rename(final)
    except OSError:
        if old is not None:
            old.rename(final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@dataclass(frozen=True)
class VideoFacts:
    """Facts of the copied video stream."""

    codecs: str
    width: int
    height: int
    frame_rate: Fraction


def fragment_video(encoded: Path, fragmented: Path) -> VideoFacts:
    """Stream-copy the first video stream of ``encoded`` into a file with one fragment per GOP."""
    with open_encoded(encoded) as source:
        if not source.streams.video:
            raise MediaError(f"{encoded}: has no video stream to package")
        stream = source.streams.video[0]
        context = stream.codec_context
        codecs = video_codec_string(context.codec.canonical_name, bytes(context.extradata or b""))
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise MediaError(f"{encoded}: the video stream declares no frame rate")
        options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
        packets = 0
        try:
            with av.open(str(fragmented), "w", format="mp4", options=options) as out:
                copy = out.add_stream_from_template(stream, opaque=True)
                copy.codec_tag = _CODEC_TAGS[context.codec.canonical_name]
                for packet in source.demux(stream):
                    if packet.dts is None:
                        continue
                    if packets == 0 and not packet.is_keyframe:
                        raise MediaError(f"{encoded}: the video does not start with a keyframe")
                    packet.stream = copy
                    out.mux(packet)
                    packets += 1
        except av.FFmpegError as exc:
            raise MediaError(f"{encoded}: cannot copy the video stream ({exc})") from exc
        if packets == 0:
            raise MediaError(f"{encoded}: the video stream has no frames")
        return VideoFacts(codecs, context.width, context.height, Fraction(rate))


def _video_track(tracks: dict[int, Track], where: Path) -> Track:
    """The video track of an init segment."""
    track = next((t for t in tracks.values() if t.handler == "vide"), None)
    if track is None:
        raise MediaError(f"{where}: the init segment has no video track")
    return track


class SegmentInfo(BaseModel):
    """One cut video segment: where it sits on the rung's timeline, its size and key frames."""

    model_config = ConfigDict(frozen=True)

    uri: str
    start_s: float = Field(description="Presentation start, seconds from the rung's start.")
    duration_s: float
    size: int
    iframes: list[tuple[float, int, int]] = Field(
        description="Per GOP: (seconds until the next key frame, byte length, byte offset)."
    )


@dataclass(frozen=True)
class Cut:
    """Segments cut from one fragmented file."""

    init: bytes
    timescale: int
    segments: list[SegmentInfo]
    duration_s: float
    first_decode_time: int
    end_decode_time: int
    fragments: int


def cut_segments(
    fragmented: Path,
    folder: Path,
    segment_seconds: float,
    offset_s: float = 0.0,
    first_number: int = 0,
) -> Cut:
    """Cut a per-GOP fragmented file into segments in ``folder`` (init bytes are returned).

    A segment starts at the first key frame on or after each multiple of ``segment_seconds``
    of the rung's timeline, where the file's first frame sits at ``offset_s``; segments are
    numbered from ``first_number``.
    """
    with fragmented.open("rb") as handle:
        boxes = scan_boxes(handle)
        moov = next((b for b in boxes if b.type == "moov"), None)
        if moov is None:
            raise MediaError(f"{fragmented}: the muxer wrote no moov box")
        handle.seek(0)
        init = handle.read(moov.end)
        track = _video_track(parse_init(init), fragmented)
        fragments = [f for f in parse_fragments(handle, {track.track_id: track}) if _samples(f)]
        if not fragments:
            raise MediaError(f"{fragmented}: the video has no fragments")
        scale = track.timescale
        starts = [_first(f).presentation_time / scale for f in fragments]
        origin = starts[0]
        ticks = sum(s.duration for f in fragments for s in f.samples[track.track_id])
        total = ticks / scale

        def slot(start: float) -> int:
            return math.floor((start - origin + offset_s) / segment_seconds + 1e-6)

        groups: list[list[int]] = []
        for index, start in enumerate(starts):
            if not groups or slot(start) > slot(starts[groups[-1][0]]):
                groups.append([])
            groups[-1].append(index)
        segments = []
        for number, group in enumerate(groups, start=first_number):
            uri = SEGMENT_NAME.format(number)
            first, last = fragments[group[0]], fragments[group[-1]]
            with (folder / uri).open("wb") as out:
                handle.seek(first.offset)
                _copy(handle, out, last.end - first.offset)
            after = number - first_number + 1
            end = starts[groups[after][0]] if after < len(groups) else origin + total
            iframes = []
            for index in group:
                fragment, sample = fragments[index], _first(fragments[index])
                until = starts[index + 1] if index + 1 < len(starts) else origin + total
                length = sample.offset + sample.size - fragment.offset
                iframes.append((until - starts[index], length, fragment.offset - first.offset))
            segments.append(
                SegmentInfo(
                    uri=uri,
                    start_s=round(starts[group[0]] - origin + offset_s, 6),
                    duration_s=end - starts[group[0]],
                    size=last.end - first.offset,
                    iframes=iframes,
                )
            )
    first_sample = fragments[0].samples[track.track_id][0]
    return Cut(
        init=init,
        timescale=scale,
        segments=segments,
        duration_s=total,
        first_decode_time=first_sample.decode_time,
        end_decode_time=first_sample.decode_time + ticks,
        fragments=len(fragments),
    )


def write_playlists(
    folder: Path,
    segments: list[SegmentInfo],
    *,
    media: str,
    iframes: str,
    playlist_type: str = "VOD",
    endlist: bool = True,
    target: int | None = None,
) -> None:
    """Write the media and I-frame playlists of ``segments`` (the options as in
    ``format_media_playlist``)."""
    media_segments = [Segment(uri=s.uri, duration_s=s.duration_s) for s in segments]
    iframe_segments = [
        Segment(uri=s.uri, duration_s=seconds, byte_range=(length, offset))
        for s in segments
        for seconds, length, offset in s.iframes
    ]
    media_text = format_media_playlist(
        media_segments, INIT_SEGMENT, playlist_type=playlist_type, endlist=endlist, target=target
    )
    iframe_text = format_media_playlist(
        iframe_segments,
        INIT_SEGMENT,
        iframes_only=True,
        playlist_type=playlist_type,
        endlist=endlist,
        target=target,
    )
    write_atomically(folder / media, media_text)
    write_atomically(folder / iframes, iframe_text)


def rung_playlist(
    folder: Path,
    name: str,
    video: VideoFacts,
    segments: list[SegmentInfo],
    duration_s: float,
    *,
    media: str = MEDIA_PLAYLIST,
    iframes: str = IFRAME_PLAYLIST,
) -> RungPlaylist:
    """What the master playlist says about a rung whose segments are ``segments``."""
    sizes = [s.size for s in segments]
    durations = [s.duration_s for s in segments]
    iframe_sizes = [length for s in segments for _, length, _ in s.iframes]
    iframe_durations = [seconds for s in segments for seconds, _, _ in s.iframes]
    return RungPlaylist(
        name=name,
        playlist=folder / media,
        iframe_playlist=folder / iframes,
        width=video.width,
        height=video.height,
        frame_rate=float(video.frame_rate),
        codecs=video.codecs,
        duration_s=round(duration_s, 6),
        segment_starts_s=[s.start_s for s in segments],
        peak_bitrate=peak_segment_bitrate(sizes, durations, target_duration(durations)),
        average_bitrate=average_bitrate(sizes, durations),
        iframe_peak_bitrate=peak_segment_bitrate(
            iframe_sizes, iframe_durations, target_duration(iframe_durations)
        ),
        iframe_average_bitrate=average_bitrate(iframe_sizes, iframe_durations),
    )


def _samples(fragment: Fragment) -> list[Sample]:
    """The video samples of a fragment (fragments carry one track here)."""
    return next(iter(fragment.samples.values()), [])


def _first(fragment: Fragment) -> Sample:
    """The first video sample of a fragment that has samples."""
    samples = _samples(fragment)
    if not samples:
        raise MediaError("a fragment without samples cannot start a segment")
    return samples[0]


def _copy(source: BinaryIO, target: BinaryIO, length: int) -> None:
    """Copy ``length`` bytes between open binary files in 1 MiB chunks."""
    while length > 0:
        chunk = source.read(min(length, 1 << 20))
        if not chunk:
            raise MediaError("the fragmented file ended early while cutting segments")
        target.write(chunk)
        length -= len(chunk)
